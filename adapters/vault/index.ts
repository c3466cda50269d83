/**
 * HashiCorp Vault's KV version 2 engine (OpenBao works the same). A secret lives at
 * `<mount>/data/<prefix>/<uuid>`, its values being the version's data map.
 *
 * Requests: store 2 (a `cas: 0` write, atomic, then the metadata with `max_versions`; over a
 * deleted secret, a read of the latest version and a `cas` write in place of the first; a read of
 * the version made, only when the write's answer was lost and its retry met a version); get 1;
 * update 2 (the latest version, to refuse a missing secret and learn the version for a `cas`
 * write; a third, the metadata write, only for a secret whose store could not write it); delete 2
 * (the latest version, then a `cas` write of a tombstone over it; a third, destroying the older
 * versions, when `keepVersions` is above 1); list 1 + 1 per secret listed (LIST, then the latest
 * version of each, since a deleted secret's tombstone is listed too).
 *
 * Why a tombstone and not DELETE on the metadata: KV v2's only conditional write is check-and-set
 * on the version number, and a DELETE on the metadata is unconditional and restarts the version
 * numbers. A slow delete could then remove a secret stored again after another client deleted it,
 * and concurrent deletes all "succeeded". A tombstone written with `cas` decides: of concurrent
 * deletes exactly one writes it, a delete that read an older secret fails its `cas`, and since the
 * metadata stays, version numbers never restart, so a `cas` can never meet a newer secret by
 * accident. The tombstone's data is `{"": "omnisecret:deleted"}`: the facade refuses empty keys,
 * so no stored map can look like it. A store over a tombstone writes the next version with `cas`.
 *
 * Every operation is bounded by `operationTimeoutMs`, each request by `requestTimeoutMs`.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { debuglog } from "node:util";
import nodeVault from "node-vault";
import type { AdapterContext, SecretsAdapter, SecretValues } from "../../src/contract.js";
import { currentDeadline, DeadlineBoundAdapter } from "../../src/deadline.js";
import {
  ConfigError,
  PermissionDeniedError,
  ProviderUnavailableError,
  SecretAlreadyExistsError,
  SecretIntegrityError,
  SecretNotFoundError,
  SecretStoreError,
} from "../../src/errors.js";
import { retryWithBackoff } from "../../src/retry.js";
import { checkStoredValues, secretNamePattern } from "../../src/validation.js";
import {
  isCheckAndSetMismatch,
  isRetryable,
  mapVaultError,
  PROVIDER,
  toVaultRequestError,
  VaultRequestError,
} from "./errors.js";
import type { ResolvedVaultOptions } from "./options.js";

export type { VaultOptions } from "./options.js";

const debug = debuglog("omnisecret");

/** What KV v2 says of a secret at `<mount>/metadata/<path>`. */
interface SecretMetadata {
  current_version: number;
  versions: Record<string, { deletion_time: string; destroyed: boolean }>;
  max_versions?: number;
  custom_metadata?: Record<string, string> | null;
}

/** Thrown inside the retry loop after a fresh AppRole login, so the request is sent again. */
class LoggedInAgain extends Error {
  override name = "LoggedInAgain";
}

/**
 * A request body axios sends as it is. axios deep-copies plain-object bodies by assignment,
 * which turns a key named "__proto__" into a prototype and drops it; a class instance is not
 * copied, and JSON.stringify serialises what toJSON returns.
 */
class JsonBody {
  readonly #body: unknown;
  constructor(body: unknown) {
    this.#body = body;
  }
  toJSON(): unknown {
    return this.#body;
  }
}

/** Reads in flight at once while a list checks which listed secrets are live. */
const LIST_READ_CONCURRENCY = 8;

/** Updates and deletes racing with other writers of one secret retry their check-and-set write this many times. */
const UPDATE_CONFLICT_ATTEMPTS = 5;

/**
 * The metadata mark of a secret stored over a tombstone: the tombstone's version. A delete that
 * read version v and finds this mark above v knows its secret was deleted meanwhile.
 */
const STORED_OVER_MARK = "omnisecret-stored-over-version";

/** The data of a deleted secret's last version; its empty key is one the facade never lets a caller store. */
const TOMBSTONE: SecretValues = Object.freeze({ "": "omnisecret:deleted" });

function isTombstone(data: unknown): boolean {
  return typeof data === "object" && data !== null && Object.hasOwn(data, "");
}

/** What a read of a secret's latest version tells: its version, and its values unless it is deleted. */
interface LatestVersion {
  readonly version: number;
  readonly values: Record<string, unknown>;
  readonly customMetadata?: Record<string, string> | null;
}

export class VaultAdapter extends DeadlineBoundAdapter {
  readonly provider = PROVIDER;
  readonly maxValueBytes: number;
  readonly #client: nodeVault.client;
  readonly #options: ResolvedVaultOptions;
  readonly #prefix: string;
  #login: Promise<void> | undefined;
  /** When the AppRole token expires (ms since the epoch); renewed a little before. */
  #tokenExpiresAt = 0;

  constructor(options: ResolvedVaultOptions, context: AdapterContext) {
    super();
    this.#options = options;
    this.#prefix = context.prefix;
    this.maxValueBytes = options.maxValueBytes;
    // The options type describes an injected client structurally, so it compiles without node-vault.
    this.#client = (options.client as nodeVault.client | undefined) ?? createClient(options);
  }

  /** The KV v2 path of a secret below the mount. */
  pathOf(id: string): string {
    return `${this.#prefix}/${id}`;
  }

  protected get limits() {
    return this.#options;
  }

  /**
   * The data write decides the outcome: once it is made, the secret is stored. The metadata write
   * after it (`max_versions`, the omnisecret marks) is best effort: if it fails, store still
   * reports the truth (stored), and the next update writes the metadata before its own version.
   */
  protected override async storeValues(id: string, values: SecretValues): Promise<void> {
    try {
      // cas 0: written only if no version exists, so of racing stores exactly one wins.
      await this.#writeVersion(id, values, 0);
    } catch (error) {
      if (!(error instanceof VaultRequestError && isCheckAndSetMismatch(error))) throw this.#map(error, id);
      // That path wrote the metadata itself, with the mark a slow delete looks for.
      return this.#recreateOverDeletedVersion(id, values, error);
    }
    try {
      await this.#writeMetadata(id);
    } catch {
      debug("vault: secret %s was stored, but its metadata was not written; the next update writes it", id);
    }
  }

  protected override async readValues(id: string): Promise<SecretValues> {
    const latest = await this.#latest(id);
    if (!latest) throw new SecretNotFoundError(id, { provider: PROVIDER });
    return checkStoredValues(latest.values, id, PROVIDER);
  }

  protected override async updateValues(id: string, values: SecretValues): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const latest = await this.#latest(id);
      if (!latest) throw new SecretNotFoundError(id, { provider: PROVIDER });
      // A store that could not write the metadata: written now, so max_versions holds before a second version.
      if (attempt === 1 && latest.customMetadata?.["omnisecret-id"] !== id) await this.#writeMetadata(id);
      try {
        // cas = the version just read: the write fails rather than bring back a secret deleted meanwhile.
        await this.#request(() =>
          this.#client.write(this.#dataPath(id), new JsonBody({ data: values, options: { cas: latest.version } })),
        );
        return;
      } catch (error) {
        const conflict = error instanceof VaultRequestError && isCheckAndSetMismatch(error);
        if (!conflict || attempt >= UPDATE_CONFLICT_ATTEMPTS) throw this.#map(error, id, "update");
      }
    }
  }

  protected override async deleteValues(id: string): Promise<void> {
    let latest = await this.#latest(id);
    for (let attempt = 1; ; attempt += 1) {
      if (!latest) throw new SecretNotFoundError(id, { provider: PROVIDER });
      try {
        await this.#writeVersion(id, TOMBSTONE, latest.version);
      } catch (error) {
        if (!(error instanceof VaultRequestError && isCheckAndSetMismatch(error))) throw this.#map(error, id);
        // Another writer came first. Gone now, or deleted and stored again since (the new secret
        // is marked as stored over a tombstone after the version read): this delete's
        // secret was deleted by someone else, and the new one is not this delete's to remove.
        // Otherwise updates came first: delete the newest version.
        const now = await this.#latest(id);
        const storedOver = Number(now?.customMetadata?.[STORED_OVER_MARK] ?? 0);
        if (!now || storedOver > latest.version) throw new SecretNotFoundError(id, { provider: PROVIDER });
        if (attempt < UPDATE_CONFLICT_ATTEMPTS) {
          latest = now;
          continue;
        }
        throw new ProviderUnavailableError(id, {
          provider: PROVIDER,
          message: `secret ${id} was written by others while it was being deleted; it was left as they wrote it`,
          cause: error,
        });
      }
      if (this.#options.keepVersions > 1) await this.#destroyVersionsBefore(id, latest.version);
      return;
    }
  }

  /**
   * The secret's latest version, or undefined when there is none to read: no secret, a latest
   * version deleted or destroyed outside omnisecret (Vault answers 404), or omnisecret's tombstone.
   */
  async #latest(id: string): Promise<LatestVersion | undefined> {
    let body: { data?: { data?: unknown; metadata?: { version?: number; custom_metadata?: unknown } } } | undefined;
    try {
      body = (await this.#request(() => this.#client.read(this.#dataPath(id)))) as typeof body;
    } catch (error) {
      if (error instanceof VaultRequestError && error.statusCode === 404) return undefined;
      throw this.#map(error, id);
    }
    const data = body?.data?.data;
    const version = body?.data?.metadata?.version;
    if (data === null || data === undefined || isTombstone(data)) return undefined;
    if (typeof data !== "object" || typeof version !== "number") {
      throw new SecretIntegrityError(id, "Vault's answer has no data map or version", { provider: PROVIDER });
    }
    return {
      version,
      values: data as Record<string, unknown>,
      customMetadata: body?.data?.metadata?.custom_metadata as Record<string, string> | null | undefined,
    };
  }

  /** Destroys the versions a deleted secret may still keep below its tombstone (`keepVersions` above 1). */
  async #destroyVersionsBefore(id: string, tombstoneBase: number): Promise<void> {
    const first = Math.max(1, tombstoneBase - this.#options.keepVersions + 1);
    const versions = Array.from({ length: tombstoneBase - first + 1 }, (_, index) => first + index);
    await this.#send(id, () => this.#client.write(`${this.#options.mount}/destroy/${this.pathOf(id)}`, { versions }));
  }

  protected override async *listIds(): AsyncIterable<string> {
    let keys: unknown[] = [];
    try {
      const body = (await this.#request(() =>
        this.#client.list(`${this.#options.mount}/metadata/${this.#prefix}/`),
      )) as {
        data?: { keys?: unknown[] };
      };
      keys = body?.data?.keys ?? [];
    } catch (error) {
      // LIST answers 404 when nothing is stored under the prefix.
      if (error instanceof VaultRequestError && error.statusCode === 404) return;
      throw this.#map(error, undefined);
    }
    // LIST shows the keys below the prefix path: the ids themselves, and any folder (`x/`) someone
    // made there. A deleted secret's tombstone is listed too, so each id's latest version is read.
    const idPattern = secretNamePattern("");
    const ids = keys.filter((key): key is string => typeof key === "string" && idPattern.test(key));
    for (let start = 0; start < ids.length; start += LIST_READ_CONCURRENCY) {
      const batch = ids.slice(start, start + LIST_READ_CONCURRENCY);
      const live = await Promise.all(batch.map(async (id) => ((await this.#latest(id)) ? id : undefined)));
      for (const id of live) if (id !== undefined) yield id;
    }
  }

  #dataPath(id: string): string {
    return `${this.#options.mount}/data/${this.pathOf(id)}`;
  }

  #metadataPath(id: string): string {
    return `${this.#options.mount}/metadata/${this.pathOf(id)}`;
  }

  /**
   * Writes `values` as the version after `cas` (check-and-set: only if the secret's current version
   * is `cas`). A write whose answer was lost (reset, timeout, 5xx) is sent again by `#request`, and
   * the retry may meet the version the lost attempt made: a check-and-set mismatch. The version the
   * write would have made is then read; if it holds exactly these values, that version is this
   * write's and it succeeded. Otherwise (or if no attempt went unanswered) the mismatch is thrown.
   *
   * Why not a nonce: KV v2 has no per-version field beside the data, and the data is the caller's
   * map. The one case this takes for a success that is not: another store of the same id, with
   * exactly the same values, made that version while this write's answer was lost; the secret then
   * holds exactly what this caller asked for.
   */
  async #writeVersion(id: string, values: SecretValues, cas: number): Promise<void> {
    let unanswered = false;
    try {
      await this.#request(async () => {
        try {
          return await this.#client.write(this.#dataPath(id), new JsonBody({ data: values, options: { cas } }));
        } catch (error) {
          if (isRetryable(toVaultRequestError(error))) unanswered = true;
          throw error;
        }
      });
    } catch (error) {
      const mismatch = error instanceof VaultRequestError && isCheckAndSetMismatch(error);
      if (mismatch && unanswered && (await this.#versionHolds(id, cas + 1, values))) return;
      throw error;
    }
  }

  /** Whether version `version` of the secret is live and holds exactly `values`. */
  async #versionHolds(id: string, version: number, values: SecretValues): Promise<boolean> {
    let body: { data?: { data?: unknown; metadata?: { version?: number } } } | undefined;
    try {
      body = (await this.#request(() => this.#client.read(`${this.#dataPath(id)}?version=${version}`))) as typeof body;
    } catch (error) {
      if (error instanceof VaultRequestError && error.statusCode === 404) return false;
      throw error;
    }
    const data = body?.data?.data;
    if (body?.data?.metadata?.version !== version || typeof data !== "object" || data === null) return false;
    const stored = Object.entries(data as Record<string, unknown>);
    return (
      stored.length === Object.keys(values).length &&
      stored.every(([key, value]) => Object.hasOwn(values, key) && values[key] === value)
    );
  }

  /** Keeps `keepVersions` versions of this secret (not of the whole mount) and marks it as omnisecret's. */
  async #writeMetadata(id: string, storedOverVersion?: number): Promise<void> {
    const marks: Record<string, string> = { "managed-by": "omnisecret", "omnisecret-id": id };
    if (storedOverVersion !== undefined) marks[STORED_OVER_MARK] = String(storedOverVersion);
    await this.#send(id, () =>
      this.#client.write(this.#metadataPath(id), {
        max_versions: this.#options.keepVersions,
        custom_metadata: marks,
      }),
    );
  }

  /**
   * A `cas: 0` create fails on a path whose latest version was deleted or destroyed outside
   * omnisecret, though reads find nothing there. Such a secret does not exist for omnisecret,
   * so the store writes a new version over it, again with check-and-set so one racer wins.
   */
  async #recreateOverDeletedVersion(id: string, values: SecretValues, mismatch: VaultRequestError): Promise<void> {
    let metadata: SecretMetadata | undefined;
    try {
      metadata = ((await this.#request(() => this.#client.read(this.#metadataPath(id)))) as { data?: SecretMetadata })
        ?.data;
    } catch (error) {
      // Removed since the create failed (a DELETE on its metadata, outside omnisecret): the id is
      // free, and the store is this create's to try again. Never "not found" from a store.
      if (error instanceof VaultRequestError && error.statusCode === 404)
        return this.#createAgain(id, values, mismatch);
      throw this.#map(error, id);
    }
    if (!metadata) throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: mismatch });
    // Deleted by omnisecret (a tombstone) or outside it (soft-deleted or destroyed): free to store.
    const free = latestVersionIsGone(metadata) || (await this.#latest(id)) === undefined;
    if (!free) throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: mismatch });
    // Marked before the new secret is written, so a delete that read the old secret and lost its
    // check-and-set to the tombstone can tell the secret was deleted, not merely updated.
    await this.#writeMetadata(id, metadata.current_version);
    try {
      await this.#writeVersion(id, values, metadata.current_version);
    } catch (error) {
      throw this.#map(error, id);
    }
  }

  async #createAgain(id: string, values: SecretValues, mismatch: VaultRequestError): Promise<void> {
    try {
      await this.#writeVersion(id, values, 0);
    } catch (error) {
      if (error instanceof VaultRequestError && isCheckAndSetMismatch(error)) {
        throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: mismatch });
      }
      throw this.#map(error, id);
    }
    await this.#writeMetadata(id).catch(() => debug("vault: secret %s was stored without its metadata", id));
  }

  async #send<T>(id: string | undefined, request: () => Promise<T>): Promise<T> {
    try {
      return await this.#request(request);
    } catch (error) {
      throw this.#map(error, id);
    }
  }

  /**
   * Sends a request with a valid token, retrying 429, 5xx and unanswered requests with backoff,
   * and a 403 once after a fresh AppRole login (the token expired or was revoked). Throws
   * `VaultRequestError`.
   */
  async #request<T>(request: () => Promise<T>): Promise<T> {
    await this.#ensureToken();
    let loggedInAgain = false;
    try {
      return await retryWithBackoff(
        async () => {
          try {
            return await request();
          } catch (error) {
            const failure = toVaultRequestError(error);
            if (failure.statusCode === 403 && this.#options.appRole && !loggedInAgain) {
              loggedInAgain = true;
              await this.#logIn(true);
              throw new LoggedInAgain(undefined, { cause: failure });
            }
            throw failure;
          }
        },
        (error) => error instanceof LoggedInAgain || (error instanceof VaultRequestError && isRetryable(error)),
        {
          attempts: this.#options.maxAttempts,
          initialDelayMs: 100,
          maxDelayMs: 2_000,
          signal: currentDeadline()?.signal,
        },
      );
    } catch (error) {
      throw error instanceof LoggedInAgain ? error.cause : error;
    }
  }

  async #ensureToken(): Promise<void> {
    if (!this.#options.appRole || this.#options.client) return;
    if (this.#tokenExpiresAt > Date.now()) return;
    await this.#logIn(false);
  }

  /** One login at a time: concurrent requests that need a token wait for the same one. */
  #logIn(force: boolean): Promise<void> {
    if (this.#login && !force) return this.#login;
    const appRole = this.#options.appRole;
    if (!appRole) return Promise.resolve();
    const login = (async () => {
      let body: { auth?: { client_token?: string; lease_duration?: number } };
      try {
        body = await retryWithBackoff(
          async () => {
            try {
              return await this.#client.write(`auth/${appRole.mount}/login`, {
                role_id: appRole.roleId,
                secret_id: appRole.secretId,
              });
            } catch (error) {
              throw toVaultRequestError(error);
            }
          },
          (error) => error instanceof VaultRequestError && isRetryable(error),
          { attempts: this.#options.maxAttempts, initialDelayMs: 100, maxDelayMs: 2_000 },
        );
      } catch (error) {
        // Vault answers wrong AppRole credentials with 400 "invalid role or secret ID".
        if (error instanceof VaultRequestError && error.statusCode === 400) {
          throw new PermissionDeniedError(undefined, {
            provider: PROVIDER,
            message: `Vault refused the AppRole login at auth/${appRole.mount}`,
            cause: error,
          });
        }
        throw mapVaultError(error as VaultRequestError, undefined) ?? error;
      }
      const token = body?.auth?.client_token;
      if (!token)
        throw new PermissionDeniedError(undefined, {
          provider: PROVIDER,
          message: "Vault's AppRole login returned no token",
        });
      this.#client.token = token;
      // Log in again a little before the lease ends (10%, at most 30 s), rather than on a 403.
      const leaseMs = (body.auth?.lease_duration ?? 0) * 1_000;
      this.#tokenExpiresAt =
        leaseMs > 0 ? Date.now() + leaseMs - Math.min(leaseMs * 0.1, 30_000) : Number.POSITIVE_INFINITY;
    })();
    this.#login = login;
    login.catch(() => {
      if (this.#login === login) this.#login = undefined;
    });
    return login;
  }

  #map(error: unknown, id: string | undefined, operation?: "update"): unknown {
    if (error instanceof SecretStoreError) return error;
    if (!(error instanceof VaultRequestError)) return error;
    // A check-and-set conflict on update is a lost race with another writer, not an existing id.
    if (operation === "update" && isCheckAndSetMismatch(error)) {
      return new ProviderUnavailableError(id, {
        provider: PROVIDER,
        message: `secret ${id} kept changing while it was updated`,
        cause: error,
      });
    }
    return mapVaultError(error, id) ?? error;
  }
}

function latestVersionIsGone(metadata: SecretMetadata): boolean {
  const latest = metadata.versions?.[String(metadata.current_version)];
  if (!latest) return true;
  if (latest.destroyed) return true;
  return latest.deletion_time !== "" && Date.parse(latest.deletion_time) <= Date.now();
}

function createClient(options: ResolvedVaultOptions): nodeVault.client {
  let ca: string[] | undefined;
  if (options.caCertFile) {
    try {
      // Added to the system's CAs, not instead of them.
      ca = [...rootCertificates, readFileSync(options.caCertFile, "utf8")];
    } catch (error) {
      throw new ConfigError(`the CA certificate file ${options.caCertFile} could not be read`, {
        provider: PROVIDER,
        field: "caCertFile",
        cause: error,
      });
    }
  }
  return nodeVault({
    endpoint: options.address,
    ...(options.token ? { token: options.token } : {}),
    ...(options.namespace ? { namespace: options.namespace } : {}),
    requestOptions: { timeout: options.requestTimeoutMs, ...(ca ? { ca } : {}) },
    // node-vault's own debug output prints request bodies, which are secret values.
    debug: () => undefined,
    // TLS stays verified: VAULT_SKIP_VERIFY, which node-vault honours by default, is ignored.
    rpDefaults: { strictSSL: true },
  } as nodeVault.VaultOptions);
}

export function createVaultAdapter(options: ResolvedVaultOptions, context: AdapterContext): SecretsAdapter {
  return new VaultAdapter(options, context);
}
