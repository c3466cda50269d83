import { randomBytes } from "node:crypto";
import { KeyVaultError } from "./http-util.js";

/**
 * Key Vault's documented limit is "25k bytes" per secret value ("Internally, Key Vault stores and
 * manages secrets as sequences of octets (8-bit bytes), with a maximum size of 25k bytes each",
 * learn.microsoft.com/azure/key-vault/secrets/about-secrets). Read as 25 x 1024 = 25,600 bytes of
 * UTF-8, the same number Microsoft's own Azure CLI enforces ("Secret is beyond the maximum permitted
 * length of 25600 characters").
 */
export const MAX_VALUE_BYTES = 25 * 1024;
/** Key Vault allows at most 15 tags on an object. */
export const MAX_TAGS = 15;
/** A page holds at most 25 items; `maxresults` above that is refused. */
export const MAX_PAGE_SIZE = 25;
const NAME_PATTERN = /^[0-9a-zA-Z-]{1,127}$/;
/** The soft-delete retention Azure reports for a vault created with the defaults. */
const RECOVERABLE_DAYS = 90;

export interface VaultTimings {
  /** How long after DELETE the object stays invisible at /deletedsecrets (Azure: a few seconds). */
  deleteDelayMs: number;
  /** How long after recover the secret stays invisible at /secrets. */
  recoverDelayMs: number;
  /** How long after purge the name still answers 409 "being deleted". */
  purgeDelayMs: number;
}

interface SecretVersion {
  id: string;
  sequence: number;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

interface StoredSecret {
  /** The case the name was first created with; lookups ignore case, as on Azure. */
  name: string;
  versions: SecretVersion[];
  deletion?: { deletedDate: number; scheduledPurgeDate: number; visibleAt: number };
  recovery?: { activeAt: number };
}

type SecretState = "active" | "deleting" | "deleted" | "recovering";

export interface Page<T> {
  items: T[];
  /** Opaque position to resume after, or undefined on the last page. */
  skipToken?: string;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** The vault's contents, in memory only. Times are evaluated lazily, so no timer outlives a test. */
export class VaultState {
  private readonly secrets = new Map<string, StoredSecret>();
  /** Names purged recently, lower-cased, mapped to when they may be reused. */
  private readonly purging = new Map<string, number>();
  private sequence = 0;

  /** `endpoint.vaultUrl` is read on each answer: it is only known once the listener has its port. */
  constructor(
    private readonly endpoint: { readonly vaultUrl: string },
    private readonly config: { timings: VaultTimings; purgeProtected: boolean },
  ) {}

  private get vaultUrl(): string {
    return this.endpoint.vaultUrl;
  }

  reset(): void {
    this.secrets.clear();
    this.purging.clear();
  }

  set(name: string, body: Record<string, unknown>): unknown {
    validateName(name);
    const value = body.value;
    if (typeof value !== "string") {
      throw new KeyVaultError(400, "BadParameter", "The parameter 'value' is required and must be a string.");
    }
    if (Buffer.byteLength(value, "utf8") > MAX_VALUE_BYTES) {
      throw new KeyVaultError(
        400,
        "BadParameter",
        `The secret value of '${name}' is larger than the maximum allowed size of ${MAX_VALUE_BYTES} bytes.`,
      );
    }
    const properties = parseProperties(body);
    const key = name.toLowerCase();
    const existing = this.secrets.get(key);
    if (existing) {
      const state = this.stateOf(existing);
      if (state === "deleted") {
        throw new KeyVaultError(
          409,
          "Conflict",
          `Secret ${existing.name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
          "ObjectIsDeletedButRecoverable",
        );
      }
      if (state === "deleting") throw beingDeleted(existing.name);
      if (state === "recovering") throw beingRecovered(existing.name);
    } else if (this.isPurging(key)) {
      throw beingDeleted(name);
    }
    const now = nowSeconds();
    const version: SecretVersion = {
      id: randomBytes(16).toString("hex"),
      sequence: ++this.sequence,
      value,
      enabled: properties.enabled ?? true,
      created: now,
      updated: now,
      ...(properties.contentType !== undefined ? { contentType: properties.contentType } : {}),
      ...(properties.tags !== undefined ? { tags: properties.tags } : {}),
      ...(properties.nbf !== undefined ? { nbf: properties.nbf } : {}),
      ...(properties.exp !== undefined ? { exp: properties.exp } : {}),
    };
    const secret = existing ?? { name, versions: [] };
    secret.versions.push(version);
    this.secrets.set(key, secret);
    return this.bundle(secret, version, true);
  }

  get(name: string, versionId: string | undefined): unknown {
    const { secret, version } = this.findVersion(name, versionId);
    if (!version.enabled) {
      throw new KeyVaultError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled");
    }
    return this.bundle(secret, version, true);
  }

  update(name: string, versionId: string | undefined, body: Record<string, unknown>): unknown {
    const { secret, version } = this.findVersion(name, versionId);
    const properties = parseProperties(body);
    if (properties.enabled !== undefined) version.enabled = properties.enabled;
    if (properties.contentType !== undefined) version.contentType = properties.contentType;
    if (properties.tags !== undefined) version.tags = properties.tags;
    if (properties.nbf !== undefined) version.nbf = properties.nbf;
    if (properties.exp !== undefined) version.exp = properties.exp;
    version.updated = nowSeconds();
    return this.bundle(secret, version, false);
  }

  list(maxResults: number, skipToken: string | undefined): Page<unknown> {
    const active = [...this.secrets.entries()]
      .filter(([, secret]) => this.stateOf(secret) === "active")
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return paginate(
      active,
      maxResults,
      skipToken,
      ([key]) => key,
      ([, secret]) => this.item(secret),
    );
  }

  /**
   * GET /secrets/{name}/versions: every version, enabled or not, with tags and attributes and no
   * value. In version id order, not by time: Azure's order is "deterministic but not
   * chronological" (azure-sdk-for-python#35923), and its `created` counts whole seconds, so a
   * client must not take the list's order for the versions' history.
   */
  listVersions(name: string, maxResults: number, skipToken: string | undefined): Page<unknown> {
    const secret = this.activeSecret(name);
    const versions = secret ? [...secret.versions].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) : [];
    return paginate(
      versions,
      maxResults,
      skipToken,
      (version) => version.id,
      (version) => this.versionItem(secret as StoredSecret, version),
    );
  }

  delete(name: string): unknown {
    const secret = this.secrets.get(name.toLowerCase());
    const state = secret ? this.stateOf(secret) : undefined;
    if (!secret || state === "deleted") throw secretNotFound(name);
    if (state === "deleting") throw beingDeleted(secret.name);
    if (state === "recovering") throw beingRecovered(secret.name);
    const deletedDate = nowSeconds();
    secret.deletion = {
      deletedDate,
      scheduledPurgeDate: deletedDate + RECOVERABLE_DAYS * 24 * 60 * 60,
      visibleAt: Date.now() + this.config.timings.deleteDelayMs,
    };
    return this.deletedBundle(secret);
  }

  getDeleted(name: string): unknown {
    const secret = this.secrets.get(name.toLowerCase());
    if (!secret || this.stateOf(secret) !== "deleted") throw deletedSecretNotFound();
    return this.deletedBundle(secret);
  }

  listDeleted(maxResults: number, skipToken: string | undefined): Page<unknown> {
    const deleted = [...this.secrets.entries()]
      .filter(([, secret]) => this.stateOf(secret) === "deleted")
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return paginate(
      deleted,
      maxResults,
      skipToken,
      ([key]) => key,
      ([, secret]) => this.deletedItem(secret),
    );
  }

  purge(name: string): void {
    const key = name.toLowerCase();
    const secret = this.secrets.get(key);
    const state = secret ? this.stateOf(secret) : undefined;
    if (secret && state === "deleting") throw beingDeleted(secret.name);
    if (!secret || state !== "deleted") throw deletedSecretNotFound();
    if (this.config.purgeProtected) {
      throw new KeyVaultError(
        403,
        "Forbidden",
        `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.`,
      );
    }
    this.secrets.delete(key);
    this.purging.set(key, Date.now() + this.config.timings.purgeDelayMs);
  }

  recover(name: string): unknown {
    const secret = this.secrets.get(name.toLowerCase());
    const state = secret ? this.stateOf(secret) : undefined;
    if (secret && state === "deleting") throw beingDeleted(secret.name);
    if (!secret || state !== "deleted") throw deletedSecretNotFound();
    delete secret.deletion;
    secret.recovery = { activeAt: Date.now() + this.config.timings.recoverDelayMs };
    return this.bundle(secret, latest(secret), false);
  }

  private stateOf(secret: StoredSecret): SecretState {
    if (secret.deletion) return Date.now() < secret.deletion.visibleAt ? "deleting" : "deleted";
    if (secret.recovery) {
      if (Date.now() < secret.recovery.activeAt) return "recovering";
      delete secret.recovery;
    }
    return "active";
  }

  private isPurging(key: string): boolean {
    const until = this.purging.get(key);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.purging.delete(key);
    return false;
  }

  private activeSecret(name: string): StoredSecret | undefined {
    const secret = this.secrets.get(name.toLowerCase());
    return secret && this.stateOf(secret) === "active" ? secret : undefined;
  }

  private findVersion(name: string, versionId: string | undefined): { secret: StoredSecret; version: SecretVersion } {
    const secret = this.activeSecret(name);
    if (!secret) throw secretNotFound(name);
    const version = versionId
      ? secret.versions.find((candidate) => candidate.id === versionId.toLowerCase())
      : latest(secret);
    if (!version) throw secretNotFound(`${name}/${versionId}`);
    return { secret, version };
  }

  private attributes(version: SecretVersion): Record<string, unknown> {
    return {
      enabled: version.enabled,
      ...(version.nbf !== undefined ? { nbf: version.nbf } : {}),
      ...(version.exp !== undefined ? { exp: version.exp } : {}),
      created: version.created,
      updated: version.updated,
      recoveryLevel: this.config.purgeProtected ? "Recoverable" : "Recoverable+Purgeable",
      recoverableDays: RECOVERABLE_DAYS,
    };
  }

  private common(version: SecretVersion): Record<string, unknown> {
    return {
      ...(version.contentType !== undefined ? { contentType: version.contentType } : {}),
      attributes: this.attributes(version),
      ...(version.tags !== undefined ? { tags: version.tags } : {}),
    };
  }

  /** A SecretBundle. Azure leaves the value out of update and recover answers. */
  private bundle(secret: StoredSecret, version: SecretVersion, withValue: boolean): unknown {
    return {
      ...(withValue ? { value: version.value } : {}),
      id: `${this.vaultUrl}/secrets/${secret.name}/${version.id}`,
      ...this.common(version),
    };
  }

  private item(secret: StoredSecret): unknown {
    return { id: `${this.vaultUrl}/secrets/${secret.name}`, ...this.common(latest(secret)) };
  }

  private versionItem(secret: StoredSecret, version: SecretVersion): unknown {
    return { id: `${this.vaultUrl}/secrets/${secret.name}/${version.id}`, ...this.common(version) };
  }

  private deletionFields(secret: StoredSecret): Record<string, unknown> {
    const deletion = secret.deletion;
    return {
      recoveryId: `${this.vaultUrl}/deletedsecrets/${secret.name}`,
      ...(deletion ? { deletedDate: deletion.deletedDate, scheduledPurgeDate: deletion.scheduledPurgeDate } : {}),
    };
  }

  /** A DeletedSecretBundle: Azure's delete and get-deleted answers carry no value. */
  private deletedBundle(secret: StoredSecret): unknown {
    const version = latest(secret);
    return {
      ...this.deletionFields(secret),
      id: `${this.vaultUrl}/secrets/${secret.name}/${version.id}`,
      ...this.common(version),
    };
  }

  private deletedItem(secret: StoredSecret): unknown {
    return { ...this.deletionFields(secret), ...(this.item(secret) as Record<string, unknown>) };
  }
}

export function validateName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new KeyVaultError(
      400,
      "BadParameter",
      `The request URI contains an invalid name: ${name.slice(0, 200)}. Names must match ^[0-9a-zA-Z-]{1,127}$.`,
    );
  }
}

function latest(secret: StoredSecret): SecretVersion {
  const version = secret.versions.at(-1);
  if (!version) throw new Error(`secret ${secret.name} has no versions`);
  return version;
}

function secretNotFound(name: string): KeyVaultError {
  return new KeyVaultError(
    404,
    "SecretNotFound",
    `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command.`,
  );
}

function deletedSecretNotFound(): KeyVaultError {
  return new KeyVaultError(404, "SecretNotFound", "Deleted Secret not found");
}

function beingDeleted(name: string): KeyVaultError {
  return new KeyVaultError(409, "Conflict", `Secret ${name} is currently being deleted.`, "ObjectIsBeingDeleted");
}

function beingRecovered(name: string): KeyVaultError {
  return new KeyVaultError(409, "Conflict", `Secret ${name} is currently being recovered.`);
}

interface ParsedProperties {
  enabled?: boolean;
  nbf?: number;
  exp?: number;
  contentType?: string;
  tags?: Record<string, string>;
}

function parseProperties(body: Record<string, unknown>): ParsedProperties {
  const result: ParsedProperties = {};
  if (body.contentType !== undefined && body.contentType !== null) {
    if (typeof body.contentType !== "string") throw badParameter("contentType must be a string.");
    result.contentType = body.contentType;
  }
  if (body.tags !== undefined && body.tags !== null) {
    if (typeof body.tags !== "object" || Array.isArray(body.tags)) throw badParameter("tags must be an object.");
    const entries = Object.entries(body.tags as Record<string, unknown>);
    if (entries.length > MAX_TAGS) throw badParameter(`At most ${MAX_TAGS} tags are allowed.`);
    const tags: Record<string, string> = {};
    for (const [key, value] of entries) {
      if (typeof value !== "string") throw badParameter(`The value of tag '${key}' must be a string.`);
      tags[key] = value;
    }
    result.tags = tags;
  }
  const attributes = body.attributes;
  if (attributes !== undefined && attributes !== null) {
    if (typeof attributes !== "object" || Array.isArray(attributes))
      throw badParameter("attributes must be an object.");
    const { enabled, nbf, exp } = attributes as Record<string, unknown>;
    if (enabled !== undefined && enabled !== null) {
      if (typeof enabled !== "boolean") throw badParameter("attributes.enabled must be a boolean.");
      result.enabled = enabled;
    }
    if (nbf !== undefined && nbf !== null) {
      if (typeof nbf !== "number") throw badParameter("attributes.nbf must be a number of seconds.");
      result.nbf = nbf;
    }
    if (exp !== undefined && exp !== null) {
      if (typeof exp !== "number") throw badParameter("attributes.exp must be a number of seconds.");
      result.exp = exp;
    }
  }
  return result;
}

function badParameter(message: string): KeyVaultError {
  return new KeyVaultError(400, "BadParameter", message);
}

/**
 * Pages keyed by a sort key rather than an offset, so a secret created or deleted between two page
 * requests neither repeats nor skips an unrelated item.
 */
function paginate<T>(
  sorted: T[],
  maxResults: number,
  skipToken: string | undefined,
  keyOf: (item: T) => string,
  render: (item: T) => unknown,
): Page<unknown> {
  const after = skipToken === undefined ? undefined : decodeSkipToken(skipToken);
  const remaining = after === undefined ? sorted : sorted.filter((item) => keyOf(item) > after);
  const page = remaining.slice(0, maxResults);
  const last = page.at(-1);
  return {
    items: page.map(render),
    ...(remaining.length > maxResults && last !== undefined ? { skipToken: encodeSkipToken(keyOf(last)) } : {}),
  };
}

function encodeSkipToken(key: string): string {
  return Buffer.from(JSON.stringify({ after: key }), "utf8").toString("base64url");
}

function decodeSkipToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { after?: unknown };
    if (typeof parsed.after === "string") return parsed.after;
  } catch {
    // Falls through to the error below.
  }
  throw badParameter("The $skiptoken is not valid.");
}
