/**
 * Azure Key Vault secrets. A secret is named `<prefix>-<owner>-<uuid>`, holds
 * `JSON.stringify(values)` with content type `application/json`, and is tagged `managed-by:
 * omnisecret`, `omnisecret-id: <uuid>` and `omnisecret-owner: <owner>`, and on every version
 * `omnisecret-incarnation` and `omnisecret-sequence` (below).
 *
 * Versions: Key Vault keeps every version of a secret, enabled or disabled, and brings them all
 * back when a deleted secret is recovered (which a store of a soft-deleted id does, below). So a
 * store tags its version with the secret's incarnation (the store's time in ms, base 36) and
 * sequence 1, and an update copies the incarnation of the version it replaces and adds 1 to its
 * sequence. A version whose incarnation is not the current version's belongs to an earlier secret
 * of this id, deleted since: never read or listed as this one's. A version token is
 * `<incarnation>.<version id>`. The sequence orders the versions: Key Vault's `created` counts
 * whole seconds, and its list of versions is in no chronological order. The latest `keepVersions`
 * versions of the incarnation are readable; an update disables the ones beyond.
 *
 * Ownership: the name says whose a secret is, so no request is spent on it. Key Vault's GET
 * returns the tags with the value, so every operation that reads anyway (store, get, update, and
 * list) also checks them, for free: a secret at one of our names whose tags do not match is not
 * found (a store of its id gives `E_SECRET_EXISTS`) and is never changed; a get drops its value
 * unread. A delete needs no read, so it checks the tags only with `verifyOwnership: true` (one GET
 * more); by default it deletes whatever secret holds the name.
 *
 * Key Vault has no conditional create: a store is a read, then a set. Two racing stores of one
 * id can both succeed (the later one's values win, whole), so this adapter says `atomicCreate:
 * false`.
 *
 * Requests, after a client's first one (which Key Vault answers with a 401 challenge; the SDK
 * fetches a token and sends it again):
 * - store: GET the secret (404 expected: a PUT alone would write over an existing one), then PUT
 *   a first version: 2. On a name held by a deleted secret (409): GET deletedsecrets/<name> for its
 *   tags, then with `deletePolicy: "purge"` DELETE deletedsecrets/<name> and the PUT again,
 *   retried with backoff while Key Vault still answers 409 (a purge finishes in the background);
 *   with `"soft"` (or purge refused) recover it (GET the secret, POST recover, GET until it is
 *   back), PUT the new values as a new version, GET its versions and PATCH every enabled one of
 *   the earlier incarnation disabled.
 * - get: GET the secret (1). Of "previous" or of a token other than the current version's: the
 *   GET, GET /secrets/<name>/versions (a request per 25 versions), GET of that version: 3 or more.
 * - update: GET the secret (a PUT alone would create a missing secret; the GET also gives the
 *   current version), PUT a new version, PATCH the version it replaced disabled (`pruneAction:
 *   "disable"`): 3, or 2 with `"none"`. With `keepVersions` above 1, a GET of the versions
 *   replaces the knowledge of which one to disable: GET, PUT, GET versions (one per 25), then a
 *   PATCH per enabled version certainly beyond the window (`outsideEveryWindow`): one after a
 *   serial update, 4 in all; after racing updates none or several, until a later update.
 * - list versions: GET the secret (its current version), GET /secrets/<name>/versions: 2 or more.
 * - delete: DELETE the secret (404: not found), GET deletedsecrets/<name> until the deletion
 *   shows (the SDK looks once at once, then this adapter every 500 ms, for 5 s at most), then
 *   with `"purge"` DELETE deletedsecrets/<name>, since Key Vault refuses a purge before the
 *   deletion shows: 3 at least. A deletion that does not show in time (a racing store purged
 *   it) is left unpurged. With `"soft"` nothing waits: the DELETE and the one look the SDK sends
 *   with it, 2. `verifyOwnership` adds a GET of the secret first.
 * - list: GET /secrets, one request per page of `listPageSize`.
 *
 * Every operation is bounded by `operationTimeoutMs` (each page for list; the polls a delete or a
 * recover waits on, and the waits for a purge to finish, included), each HTTP attempt by
 * `requestTimeoutMs`.
 */
import type { Agent as HttpsAgent } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { debuglog } from "node:util";
import {
  AzureAuthorityHosts,
  ClientSecretCredential,
  DefaultAzureCredential,
  type TokenCredential,
} from "@azure/identity";
import {
  type DeletedSecret,
  type KeyVaultSecret,
  type PollerLike,
  type PollOperationState,
  SecretClient,
  type SecretClientOptions,
  type SecretProperties,
} from "@azure/keyvault-secrets";
import {
  type AdapterCapabilities,
  type AdapterContext,
  currentOperation,
  type Deadline,
  DeadlineBoundAdapter,
  InvalidVersionError,
  incarnationOf,
  isSecretStoreError,
  MANAGED_BY_VALUE,
  NAME_RELEASE_BACKOFF,
  Ownership,
  ProviderUnavailableError,
  parseStoredValues,
  parseVersionToken,
  REQUEST_BACKOFF,
  RequestRunner,
  redactValues,
  SecretAlreadyExistsError,
  SecretIntegrityError,
  SecretNotFoundError,
  type SecretRead,
  type SecretsAdapter,
  type SecretValues,
  type SecretVersion,
  sendAttempt,
  trustedCas,
  trustingAgent,
  versionToken,
} from "../../src/kit/index.js";
import {
  isSecretDisabled,
  KeyVaultRequestError,
  mapKeyVaultError,
  PROVIDER,
  toKeyVaultRequestError,
} from "./errors.js";
import { type AzureServiceVersion, isLoopbackUrl, type ResolvedAzureOptions } from "./options.js";
import { newestFirst, type OrderedVersion, outsideEveryWindow } from "./version-order.js";

export type { AzureOptions } from "./options.js";
export { AZURE_MAX_VALUE_BYTES } from "./options.js";

// NODE_DEBUG=omnisecret-azure: decisions about deleted names; never values.
const debug = debuglog("omnisecret-azure");

export { MANAGED_BY_VALUE };
export const MANAGED_BY_TAG = "managed-by";
export const ID_TAG = "omnisecret-id";
export const OWNER_TAG = "omnisecret-owner";
export const CONTENT_TYPE = "application/json";
/** On every version: the incarnation of the secret it belongs to (when its store ran, ms in base 36). */
export const INCARNATION_TAG = "omnisecret-incarnation";
/** On every version: 1 for a store's, one more than the version it replaced for an update's. */
export const SEQUENCE_TAG = "omnisecret-sequence";
/**
 * On a version an update wrote: the version it replaced, which is older than it. With the
 * current version and Key Vault's seconds it orders racing writes (`newestFirst`), so a
 * rollback's "previous" is the version it rolled back, not a racer of that version's round.
 */
export const REPLACES_TAG = "omnisecret-replaces";
/** The incarnation of versions written before versions were tagged: one history, as before. */
const UNTAGGED_INCARNATION = "0";
/** A Key Vault version id: 32 hex digits. */
const VERSION_ID = /^[0-9a-f]{32}$/i;
/** Key Vault's largest page of versions. */
const VERSIONS_PAGE_SIZE = 25;

/**
 * A secret's name, `<prefix>-<owner>-<uuid>`, and its tags. Key Vault names are case-insensitive,
 * and may come back in another case than written.
 */
const NAMING = {
  separator: "-",
  marks: { managedBy: MANAGED_BY_TAG, owner: OWNER_TAG, id: ID_TAG },
  ignoreCase: true,
} as const;

/** Sets tried while a deleted secret holds the name (409), with NAME_RELEASE_BACKOFF's waits between them. */
const NAME_HELD_ATTEMPTS = 10;
/** How often the delete and recover pollers look whether Key Vault has finished. */
const POLL_INTERVAL_MS = 500;
/**
 * How long a delete waits for the deletion to show before it purges, and a recover for the secret
 * to come back (at most half the operation's time). A racing store can purge the deleted secret
 * first and set the name again: then the deletion never shows, though the DELETE was done. Past
 * this the delete ends without purging; a later store of the id purges a deleted secret of ours
 * itself.
 */
const SETTLE_WAIT_MS = 5_000;

/** Thrown inside the store's retries while Key Vault still holds the name: after a 409, and after freeing it. */
class NameStillHeld extends Error {
  override name = "NameStillHeld";
}

type Lookup =
  | { readonly state: "absent" }
  /** The latest version is disabled: its tags cannot be read, so it is nobody's to change. */
  | { readonly state: "disabled" }
  | { readonly state: "present"; readonly secret: KeyVaultSecret; readonly owned: boolean };

/** Which secret a version belongs to, and where it stands in that secret's history. */
interface Lineage {
  readonly incarnation: string;
  readonly sequence: number;
  /** The version an update replaced (what its GET found current), in lower case. */
  readonly replaces?: string | undefined;
}

/** What each SDK call is given: the operation's abort signal and the per-attempt timeout. */
interface CallOptions {
  abortSignal: AbortSignal;
  requestOptions: { timeout: number };
}

export class AzureKeyVaultAdapter extends DeadlineBoundAdapter {
  readonly provider = PROVIDER;
  /** `atomicCreate: false`: Key Vault has no conditional create, so racing stores of one id can all succeed. */
  readonly capabilities: AdapterCapabilities;
  readonly #client: SecretClient;
  /** The keep-alive agent this adapter made for `caCertFile`, closed with it. */
  readonly #agent: HttpsAgent | undefined;
  readonly #options: ResolvedAzureOptions;
  readonly #ownership: Ownership;
  /** A store's set, sent again while Key Vault frees the name of a deleted secret; failures as they are. */
  readonly #nameRelease = new RequestRunner({
    attempts: NAME_HELD_ATTEMPTS,
    backoff: NAME_RELEASE_BACKOFF,
    isRetryable: (error) => error instanceof NameStillHeld,
  });

  constructor(options: ResolvedAzureOptions, context: AdapterContext) {
    super(options);
    this.#options = options;
    this.#ownership = new Ownership({ prefix: context.prefix, owner: options.owner, ...NAMING });
    this.capabilities = { maxValueBytes: options.maxValueBytes, atomicCreate: false, list: true, versions: true };
    // The options type describes an injected client structurally, so it compiles without the SDK.
    const made = options.client ? { client: options.client as SecretClient, agent: undefined } : createClient(options);
    this.#client = made.client;
    this.#agent = made.agent;
  }

  /** The Key Vault name of a secret: the owner in it keeps installations apart without a read. */
  nameOf(id: string): string {
    return this.#ownership.nameOf(id);
  }

  protected override async storeValues(
    id: string,
    values: SecretValues,
    serialized: string,
    deadline: Deadline,
  ): Promise<void> {
    const found = await this.#lookup(deadline, id, values);
    if (found.state !== "absent") throw new SecretAlreadyExistsError(id, { provider: PROVIDER });
    const lineage: Lineage = { incarnation: incarnationOf(Date.now()), sequence: 1 };
    let recovered = false;
    let written: KeyVaultSecret | undefined;
    try {
      await this.#nameRelease.run(deadline, async () => {
        try {
          written = await this.#setSecret(deadline, id, values, serialized, lineage);
        } catch (error) {
          if (!(error instanceof KeyVaultRequestError && error.statusCode === 409)) throw error;
          const deleted = await this.#deletedSecret(deadline, id);
          // None: purged, but Key Vault finishes a purge in the background and answers 409 meanwhile.
          if (deleted === undefined) throw new NameStillHeld(undefined, { cause: error });
          if (!this.#ownership.isOwned(deleted.properties.tags, id)) {
            throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: error });
          }
          if (this.#options.deletePolicy === "purge" && isPurgeable(deleted) && (await this.#purge(deadline, id))) {
            debug("purged deleted secret %s before storing it again", this.nameOf(id));
          } else {
            await this.#recover(deadline, id);
            recovered = true;
            debug("recovered deleted secret %s to store it again", this.nameOf(id));
          }
          throw new NameStillHeld(undefined, { cause: error });
        }
      });
    } catch (error) {
      if (error instanceof NameStillHeld) {
        throw new ProviderUnavailableError(id, {
          provider: PROVIDER,
          message: `Key Vault still holds the name ${this.nameOf(id)} of a deleted secret after ${NAME_HELD_ATTEMPTS} attempts; try again later`,
          cause: error.cause,
        });
      }
      throw this.#map(error, id, "store");
    }
    // The recovered versions hold the values of the secret deleted before: not readable any more
    // (omnisecret reads none of them, being of another incarnation; disabled, nobody else does).
    if (recovered && written?.properties.version && this.#options.pruneAction === "disable") {
      await this.#disableAllBut(deadline, id, new Set([written.properties.version.toLowerCase()]));
    }
  }

  protected override async readValues(id: string, deadline: Deadline, version?: string): Promise<SecretRead> {
    const token = version === undefined || version === "previous" ? undefined : parseVersionToken(version, VERSION_ID);
    if (version !== undefined && version !== "previous" && token === undefined) {
      throw new InvalidVersionError(id, "is not a Key Vault version token", { provider: PROVIDER });
    }
    const current = await this.#owned(deadline, id);
    const { incarnation } = lineageOf(current.properties.tags);
    if (version === undefined) return this.#readOf(id, current, incarnation);
    const currentVersion = current.properties.version?.toLowerCase() ?? "";
    const which = token ? `that version of secret ${id}` : `the previous version of secret ${id}`;
    if (token && token.incarnation !== incarnation) {
      throw this.#versionNotFound(id, `${which} belongs to a secret deleted since (the id was stored again)`);
    }
    if (token && token.native.toLowerCase() === currentVersion) return this.#readOf(id, current, incarnation);
    const keep = this.#options.keepVersions;
    // Only the current version is readable: nothing to look up.
    if (keep === 1) throw this.#versionNotFound(id, `${which} is not kept (keepVersions 1)`);
    const history = this.#history(id, await this.#versions(deadline, id), currentVersion, incarnation);
    const index = token ? history.findIndex((properties) => versionOf(properties) === token.native.toLowerCase()) : 1;
    const found = history[index];
    if (index < 0 || found === undefined) {
      throw this.#versionNotFound(id, token ? `${which} is gone` : `secret ${id} has no previous version`);
    }
    if (index >= keep || found.enabled === false) {
      throw this.#versionNotFound(id, `${which} was pruned (keepVersions ${keep})`);
    }
    return this.#readVersion(deadline, id, versionOf(found), incarnation, which);
  }

  /** The versions of this incarnation, newest first: the current one, then by sequence. */
  protected override async listVersions(id: string, deadline: Deadline): Promise<readonly SecretVersion[]> {
    const current = await this.#owned(deadline, id);
    const { incarnation } = lineageOf(current.properties.tags);
    const currentVersion = current.properties.version?.toLowerCase() ?? "";
    const history = this.#history(id, await this.#versions(deadline, id), currentVersion, incarnation);
    return history.map((properties, index) => ({
      token: versionToken(incarnation, versionOf(properties)),
      createdAt: properties.createdOn ?? new Date(0),
      current: versionOf(properties) === currentVersion,
      readable: index < this.#options.keepVersions && properties.enabled !== false,
    }));
  }

  /** Whether `token` has the shape of this adapter's tokens: `<incarnation>.<32 hex digits>`. */
  isVersionToken(token: string): boolean {
    return parseVersionToken(token, VERSION_ID) !== undefined;
  }

  protected override async updateValues(
    id: string,
    values: SecretValues,
    serialized: string,
    deadline: Deadline,
  ): Promise<void> {
    const current = await this.#owned(deadline, id);
    const replaced = lineageOf(current.properties.tags);
    try {
      await this.#setSecret(deadline, id, values, serialized, {
        incarnation: replaced.incarnation,
        sequence: replaced.sequence + 1,
        replaces: current.properties.version?.toLowerCase(),
      });
    } catch (error) {
      // 409: deleted since the read; an update never brings it back.
      throw this.#map(error, id);
    }
    if (this.#options.pruneAction !== "disable") return;
    if (this.#options.keepVersions === 1) {
      // The version replaced is the one to disable: no list needed.
      const previous = current.properties.version;
      if (previous) await this.#disableVersion(deadline, id, previous);
      return;
    }
    // Racing updates (Key Vault has no conditional write) each see the others' versions, and only
    // Key Vault knows which one is current: ranking its own version first, each racer disabled the
    // others', the current one included (the model suite, three racing updates with keepVersions
    // 2). Ranking by sequence failed too: a slow racer that read an old version has a low sequence
    // but may land in a later second, where the order puts it inside the window. So an update
    // disables only the versions every order places beyond the window (`outsideEveryWindow`); the
    // rest are disabled by a later update, once enough versions are certainly newer.
    const ours = this.#incarnationVersions(id, await this.#versions(deadline, id), replaced.incarnation);
    for (const { properties, version } of outsideEveryWindow(ours, this.#options.keepVersions)) {
      if (properties.enabled !== false) await this.#disableVersion(deadline, id, version);
    }
  }

  protected override async deleteValues(id: string, deadline: Deadline): Promise<void> {
    // DELETE answers 404 for a missing secret by itself: the read is for the tags only.
    if (this.#options.verifyOwnership) await this.#owned(deadline, id);
    let deleted: DeletedSecret;
    try {
      const callOptions = this.#callOptions(deadline);
      const poller = await this.#client.beginDeleteSecret(this.nameOf(id), callOptions);
      // Only a purge has to wait for the deletion to show (Key Vault refuses it before).
      if (this.#options.deletePolicy !== "purge") return;
      if (!(await untilDone(poller, callOptions.abortSignal, this.#settleWaitMs()))) {
        debug("deletion of %s did not show in time; left for a later store to purge", this.nameOf(id));
        return;
      }
      deleted = poller.getResult() as DeletedSecret;
    } catch (error) {
      const failure = toKeyVaultRequestError(error);
      // Reported as get reports a missing secret: no cause, nothing in it to explain.
      if (failure.statusCode === 404) throw new SecretNotFoundError(id, { provider: PROVIDER });
      // 409: another delete of it is under way; as after it, the secret is not found.
      throw this.#map(failure, id);
    }
    // No recovery id: the vault has no soft delete, and the secret is gone already.
    if (!deleted.properties.recoveryId) return;
    if (!isPurgeable(deleted)) {
      debug("vault does not let %s be purged (purge protection); left soft-deleted", this.nameOf(id));
      return;
    }
    await this.#purge(deadline, id);
  }

  // Each page has its own deadline through the facade's race; the SDK's pager takes no per-page
  // signal, so a page request is bounded by requestTimeoutMs and the SDK's retries.
  protected override async *listIds(_stepDeadline: () => Deadline): AsyncIterable<string> {
    const pages = this.#client
      .listPropertiesOfSecrets({ requestOptions: { timeout: this.#options.requestTimeoutMs } })
      .byPage({ maxPageSize: this.#options.listPageSize });
    try {
      for await (const page of pages) {
        for (const properties of page) {
          const id = this.#ownership.idOfName(properties.name);
          if (id && properties.enabled !== false && this.#ownership.isOwned(properties.tags, id)) yield id;
        }
      }
    } catch (error) {
      throw this.#map(toKeyVaultRequestError(error), undefined);
    }
  }

  close(): void {
    // Its idle keep-alive sockets; the SDK's own agent (no caCertFile) has no way to be closed.
    this.#agent?.destroy();
  }

  /** A PUT of a new version, with the content type, this owner's tags and the version's lineage. */
  #setSecret(
    deadline: Deadline,
    id: string,
    values: SecretValues,
    serialized: string,
    lineage: Lineage,
  ): Promise<KeyVaultSecret> {
    return this.#call(deadline, values, (callOptions) =>
      this.#client.setSecret(this.nameOf(id), serialized, {
        contentType: CONTENT_TYPE,
        tags: {
          ...this.#ownership.marksFor(id),
          [INCARNATION_TAG]: lineage.incarnation,
          [SEQUENCE_TAG]: String(lineage.sequence),
          ...(lineage.replaces ? { [REPLACES_TAG]: lineage.replaces } : {}),
        },
        ...callOptions,
      }),
    );
  }

  /** A read's answer: the values of `secret` and the token of its version. */
  #readOf(id: string, secret: KeyVaultSecret, incarnation: string): SecretRead {
    if (typeof secret.value !== "string") {
      throw new SecretIntegrityError(id, "the secret has no value", { provider: PROVIDER });
    }
    const values = parseStoredValues(secret.value, id, PROVIDER);
    const version = secret.properties.version?.toLowerCase();
    return version && VERSION_ID.test(version) ? { values, version: versionToken(incarnation, version) } : { values };
  }

  /** One GET of an earlier version, checked to be of this owner and incarnation and enabled. */
  async #readVersion(
    deadline: Deadline,
    id: string,
    version: string,
    incarnation: string,
    which: string,
  ): Promise<SecretRead> {
    let secret: KeyVaultSecret;
    try {
      secret = await this.#call(deadline, undefined, (callOptions) =>
        this.#client.getSecret(this.nameOf(id), { version, ...callOptions }),
      );
    } catch (error) {
      if (error instanceof KeyVaultRequestError) {
        if (error.statusCode === 404) throw this.#versionNotFound(id, `${which} is gone`);
        if (isSecretDisabled(error)) throw this.#versionNotFound(id, `${which} was disabled`);
      }
      throw this.#map(error, id);
    }
    if (secret.properties.enabled === false) throw this.#versionNotFound(id, `${which} was disabled`);
    if (
      !this.#ownership.isOwned(secret.properties.tags, id) ||
      lineageOf(secret.properties.tags).incarnation !== incarnation
    ) {
      throw this.#versionNotFound(id, `${which} is not one of this secret's`);
    }
    return this.#readOf(id, secret, incarnation);
  }

  /** Every version of the secret, in Key Vault's order (not by time): a request per 25. */
  async #versions(deadline: Deadline, id: string): Promise<SecretProperties[]> {
    const found: SecretProperties[] = [];
    try {
      const pages = this.#client
        .listPropertiesOfSecretVersions(this.nameOf(id), this.#callOptions(deadline))
        .byPage({ maxPageSize: VERSIONS_PAGE_SIZE });
      for await (const page of pages) found.push(...page);
    } catch (error) {
      throw this.#map(toKeyVaultRequestError(error), id);
    }
    return found;
  }

  /**
   * The versions of one incarnation, this owner's, newest first: `current` first, then in a
   * serial order the writes could have had (`newestFirst`: what replaced what, then Key Vault's
   * seconds, then the sequence).
   */
  #history(
    id: string,
    versions: readonly SecretProperties[],
    current: string,
    incarnation: string,
  ): SecretProperties[] {
    const ours = this.#incarnationVersions(id, versions, incarnation);
    return newestFirst(ours, current).map(({ properties }) => properties);
  }

  /** This owner's versions of one incarnation, with what the order needs to know of each. */
  #incarnationVersions(
    id: string,
    versions: readonly SecretProperties[],
    incarnation: string,
  ): (OrderedVersion & { readonly properties: SecretProperties })[] {
    return versions
      .filter(
        (properties) =>
          VERSION_ID.test(versionOf(properties)) &&
          this.#ownership.isOwned(properties.tags, id) &&
          lineageOf(properties.tags).incarnation === incarnation,
      )
      .map((properties) => ({
        properties,
        version: versionOf(properties),
        createdMs: properties.createdOn?.getTime() ?? 0,
        sequence: lineageOf(properties.tags).sequence,
        replaces: properties.tags?.[REPLACES_TAG]?.toLowerCase(),
      }));
  }

  /** Disables every enabled version not in `kept` (ids in lower case); `versions` when listed already. */
  async #disableAllBut(
    deadline: Deadline,
    id: string,
    kept: ReadonlySet<string>,
    versions?: readonly SecretProperties[],
  ): Promise<void> {
    for (const properties of versions ?? (await this.#versions(deadline, id))) {
      const version = versionOf(properties);
      if (properties.enabled !== false && version && !kept.has(version)) {
        await this.#disableVersion(deadline, id, version);
      }
    }
  }

  /** A version that cannot be read: not found, the message saying why. */
  #versionNotFound(id: string, message: string): SecretNotFoundError {
    return new SecretNotFoundError(id, { provider: PROVIDER, message });
  }

  /** One GET of the latest version, with its tags and value. */
  async #lookup(deadline: Deadline, id: string, values?: SecretValues): Promise<Lookup> {
    let secret: KeyVaultSecret;
    try {
      secret = await this.#call(deadline, values, (callOptions) =>
        this.#client.getSecret(this.nameOf(id), callOptions),
      );
    } catch (error) {
      if (error instanceof KeyVaultRequestError) {
        // Lowkey Vault answers 404 for a disabled version too: there it looks absent.
        if (error.statusCode === 404) return { state: "absent" };
        if (isSecretDisabled(error)) return { state: "disabled" };
      }
      throw this.#map(error, id);
    }
    if (secret.properties.enabled === false) return { state: "disabled" };
    return { state: "present", secret, owned: this.#ownership.isOwned(secret.properties.tags, id) };
  }

  /** The secret, if it exists, is enabled and carries this store's tags; otherwise it is not found. */
  async #owned(deadline: Deadline, id: string): Promise<KeyVaultSecret> {
    const found = await this.#lookup(deadline, id);
    if (found.state !== "present" || !found.owned) throw new SecretNotFoundError(id, { provider: PROVIDER });
    return found.secret;
  }

  /** The deleted secret holding the name, or undefined when there is none (or it is being purged). */
  async #deletedSecret(deadline: Deadline, id: string): Promise<DeletedSecret | undefined> {
    try {
      return await this.#call(deadline, undefined, (callOptions) =>
        this.#client.getDeletedSecret(this.nameOf(id), callOptions),
      );
    } catch (error) {
      if (error instanceof KeyVaultRequestError && error.statusCode === 404) return undefined;
      throw this.#map(error, id, "store");
    }
  }

  /** Purges a deleted secret; false when the vault refuses (purge protection, or no purge permission). */
  async #purge(deadline: Deadline, id: string): Promise<boolean> {
    try {
      await this.#call(deadline, undefined, (callOptions) =>
        this.#client.purgeDeletedSecret(this.nameOf(id), callOptions),
      );
      return true;
    } catch (error) {
      if (error instanceof KeyVaultRequestError && error.statusCode === 403) {
        debug("purge of %s refused (403); it stays soft-deleted", this.nameOf(id));
        return false;
      }
      // Already purged (by a racing store, or the vault purged it itself).
      if (error instanceof KeyVaultRequestError && error.statusCode === 404) return true;
      throw this.#map(error, id);
    }
  }

  async #recover(deadline: Deadline, id: string): Promise<void> {
    try {
      const callOptions = this.#callOptions(deadline);
      const poller = await this.#client.beginRecoverDeletedSecret(this.nameOf(id), callOptions);
      // Not back in time (a racing store purged it, say): the set that follows finds out.
      await untilDone(poller, callOptions.abortSignal, this.#settleWaitMs());
    } catch (error) {
      const failure = toKeyVaultRequestError(error);
      // 409: a racing store is recovering it already; the next set finds out.
      if (failure.statusCode === 409 || failure.statusCode === 404) return;
      throw this.#map(failure, id, "store");
    }
  }

  async #disableVersion(deadline: Deadline, id: string, version: string): Promise<void> {
    try {
      await this.#call(deadline, undefined, (callOptions) =>
        this.#client.updateSecretProperties(this.nameOf(id), version, { enabled: false, ...callOptions }),
      );
    } catch (error) {
      // The version is gone already: nothing is left readable.
      if (error instanceof KeyVaultRequestError && error.statusCode === 404) return;
      throw this.#map(error, id);
    }
  }

  #settleWaitMs(): number {
    return Math.min(SETTLE_WAIT_MS, this.#options.operationTimeoutMs / 2);
  }

  /**
   * The options of one SDK call: the operation's deadline as its abort signal (so retries, polls
   * and waits stop there) and `requestTimeoutMs` (cut to the time left) for each HTTP attempt.
   */
  #callOptions(deadline: Deadline): CallOptions {
    return {
      abortSignal: deadline.signal,
      requestOptions: { timeout: deadline.requestTimeoutMs(this.#options.requestTimeoutMs) },
    };
  }

  /** One SDK call, its retries included, within the operation's deadline; failures come out rebuilt, as `KeyVaultRequestError`. */
  async #call<T>(
    deadline: Deadline,
    values: SecretValues | undefined,
    run: (callOptions: CallOptions) => Promise<T>,
  ): Promise<T> {
    try {
      return await run(this.#callOptions(deadline));
    } catch (error) {
      throw toKeyVaultRequestError(error, (text) => redactValues(text, values));
    }
  }

  #map(error: unknown, id: string | undefined, operation?: "store"): unknown {
    if (isSecretStoreError(error)) return error;
    const failure = toKeyVaultRequestError(error);
    return mapKeyVaultError(failure, id, operation) ?? failure;
  }
}

/**
 * Waits until a Key Vault poller is done, or for `waitMs` at most: false then. `begin*` has
 * already sent the operation and looked once whether it finished; the SDK's `pollUntilDone` would
 * look again at once, before its first wait, a request that cannot learn more than the one just
 * made. This waits first.
 */
async function untilDone<T>(
  poller: PollerLike<PollOperationState<T>, T>,
  abortSignal: AbortSignal,
  waitMs: number,
): Promise<boolean> {
  const giveUpAt = Date.now() + waitMs;
  while (!poller.isDone()) {
    if (Date.now() + POLL_INTERVAL_MS > giveUpAt) return false;
    await sleep(POLL_INTERVAL_MS, undefined, { signal: abortSignal });
    await poller.poll({ abortSignal });
  }
  return true;
}

/** A version's id, in lower case ("" when Key Vault gave none). */
function versionOf(properties: SecretProperties): string {
  return properties.version?.toLowerCase() ?? "";
}

/** The lineage tags of a version; untagged (written before them): one history, sequence 0. */
function lineageOf(tags: Record<string, string> | undefined): Lineage {
  const sequence = Number(tags?.[SEQUENCE_TAG]);
  return {
    incarnation: tags?.[INCARNATION_TAG] || UNTAGGED_INCARNATION,
    sequence: Number.isSafeInteger(sequence) && sequence >= 0 ? sequence : 0,
  };
}

/** Whether Key Vault lets a deleted secret be purged: its recovery level says so (absent: try). */
function isPurgeable(deleted: DeletedSecret): boolean {
  const level = deleted.properties.recoveryLevel;
  return level === undefined || level.includes("Purgeable");
}

const AZURE_AUTHORITY_HOSTS = new Set<string>(
  Object.values(AzureAuthorityHosts).map((host) => new URL(host).host.toLowerCase()),
);

function createCredential(
  options: ResolvedAzureOptions,
  ca: string[] | undefined,
  agent: HttpsAgent | undefined,
): TokenCredential {
  const credential = options.credential;
  if (credential && typeof (credential as TokenCredential).getToken === "function") {
    return credential as TokenCredential;
  }
  if (credential && "clientSecret" in credential) {
    const authorityHost = credential.authorityHost;
    return new ClientSecretCredential(credential.tenantId, credential.clientId, credential.clientSecret, {
      // The authority is always https (the schema and the SDK require it): the vault's agent fits.
      ...(agent ? { agent } : ca ? { tlsOptions: { ca } } : {}),
      ...(authorityHost
        ? {
            authorityHost,
            // Instance discovery asks Microsoft about the authority: only Azure's own hosts are known there.
            disableInstanceDiscovery: !AZURE_AUTHORITY_HOSTS.has(new URL(authorityHost).host.toLowerCase()),
          }
        : {}),
    });
  }
  // Managed identity may ask IMDS over plain http, which an https agent cannot carry.
  return new DefaultAzureCredential(ca ? { tlsOptions: { ca } } : {});
}

/**
 * The keep-alive agent of a client that trusts `ca`. Not `tlsOptions: { ca }`: the SDK hands
 * that to an `https.Agent` as `ca`, and Node's agent writes its `ca` into the key it looks its
 * sockets up by (`Agent.getName`), when a request takes a socket and when it gives it back: with
 * the system's CAs and a `NODE_EXTRA_CA_CERTS` bundle, a join of some 400 KB each time, one to
 * three milliseconds of CPU per request. A secure context made once, here, is not part of that
 * key, and no new connection parses the PEMs into one of its own either. Trust and verification
 * are the same: the context holds exactly those CAs, and the agent checks certificate and host.
 */

/** The SecretClient of a config, and the agent it was given (the adapter's to close), if any. */
/**
 * `serviceVersion`'s picklist is the SDK's own union: this fails to compile when an SDK upgrade
 * adds or drops a version, so the list in options.ts is brought along.
 */
type SdkServiceVersion = NonNullable<SecretClientOptions["serviceVersion"]>;
const sameServiceVersions: [AzureServiceVersion, SdkServiceVersion] extends [SdkServiceVersion, AzureServiceVersion]
  ? true
  : false = true;
void sameServiceVersions;

function createClient(options: ResolvedAzureOptions): { client: SecretClient; agent: HttpsAgent | undefined } {
  const ca = options.caCertFile ? trustedCas(options.caCertFile, PROVIDER) : undefined;
  const agent = ca ? trustingAgent(ca) : undefined;
  const url = new URL(options.vaultUrl);
  // The options schema accepts http only for a loopback host.
  const insecure = url.protocol === "http:" && isLoopbackUrl(url);
  const client = new SecretClient(options.vaultUrl, createCredential(options, ca, agent), {
    disableChallengeResourceVerification: options.disableChallengeResourceVerification,
    // Absent: the SDK's own default, its LATEST_API_VERSION.
    ...(options.serviceVersion ? { serviceVersion: options.serviceVersion } : {}),
    // The kit's waits. The SDK draws each from the upper half of min(retryDelayInMs * 2^n,
    // maxRetryDelayInMs), n = 0 for the first retry, so twice the initial delay gives the same
    // ranges; once capped, a wait is drawn between half maxDelayMs and maxDelayMs.
    retryOptions: {
      maxRetries: options.maxAttempts - 1,
      retryDelayInMs: 2 * REQUEST_BACKOFF.initialDelayMs,
      maxRetryDelayInMs: REQUEST_BACKOFF.maxDelayMs,
    },
    ...(insecure ? { allowInsecureConnection: true } : {}),
    // Every request of this client goes to the vault; an https agent cannot carry plain http.
    ...(agent && !insecure ? { agent } : {}),
    userAgentOptions: { userAgentPrefix: "omnisecret" },
    // Below the SDK's retry policy: sees every attempt, for the operation's span (telemetry).
    additionalPolicies: [{ policy: attemptsPolicy(), position: "perRetry" }],
  });
  return { client, agent };
}

type PipelinePolicy = NonNullable<SecretClientOptions["additionalPolicies"]>[number]["policy"];

/**
 * Counts each attempt of a request as one of the traced operation's requests, a retry under a
 * child span (the SDK's retry policy sends the same request object again). Nothing but one
 * lookup when no span records.
 */
function attemptsPolicy(): PipelinePolicy {
  const attempts = new WeakMap<object, number>();
  return {
    name: "omnisecretAttempts",
    sendRequest(request, next) {
      if (currentOperation() === undefined) return next(request);
      const attempt = (attempts.get(request) ?? 0) + 1;
      attempts.set(request, attempt);
      return sendAttempt(attempt, () => next(request));
    },
  };
}

export function createAzureAdapter(options: ResolvedAzureOptions, context: AdapterContext): SecretsAdapter {
  return new AzureKeyVaultAdapter(options, context);
}
