/**
 * HashiCorp Vault's KV version 2 engine (OpenBao works the same). A secret lives at
 * `<mount>/data/<prefix>/<owner>/<uuid>`, its values being the version's data map: the path
 * says whose a secret is, so no ownership read comes before a call.
 *
 * Versions: Vault keeps the larger of a secret's own `max_versions` and the mount's
 * (`<mount>/config`; 10 when neither is set), so a secret's own setting can raise the count but
 * never lower it. The adapter reads the mount's config once, beside its first write. A mount that
 * keeps `keepVersions` or more (`bao write <mount>/config max_versions=1`, once, for the default)
 * needs nothing per secret. On any other mount (the default mount's `max_versions` is 0), and
 * when the token may not read the config, each store also writes the secret's metadata: its
 * `max_versions` and the marks `managed-by`, `omnisecret-owner`, `omnisecret-id`.
 *
 * Requests, default config (`verifyOwnership` false), mount set to `keepVersions`: store 1 (a
 * `cas: 0` write, atomic); get 1; update 2 (the latest version, to refuse a missing secret and
 * learn the version for a `cas` write, then that write); delete 3 (the latest version, a `cas`
 * write of a tombstone over it, which pushes the deleted values out of the versions kept, then the
 * destroy of the tombstone's version, see below); list, on OpenBao, 1 per page of `listPageSize`
 * (10,000) keys under `<prefix>/<owner>/`, live and deleted secrets' alike, plus 1 when the last
 * page is full: floor(keys / listPageSize) + 1, and no request per key. On HashiCorp Vault, which
 * has no `detailed-metadata`, list is 1 + 1 per key (LIST of the metadata, then the latest version
 * of each, deleted ones included), and the first list of each adapter sends one request more, the
 * detailed LIST that tells. Plus, once per adapter, the read of `<mount>/config`.
 * - A mount keeping fewer than `keepVersions` (or whose config the token may not read): store 2
 *   (the metadata write after the data); update a third request, the metadata write, only for a
 *   secret whose store could not write it.
 * - More than one version kept (`keepVersions` or the mount's `max_versions` above 1): delete 3
 *   still, the destroy taking the versions below the tombstone with it.
 * - `verifyOwnership`: store 2 (the metadata write with the marks); get, update, delete and list
 *   check the marks in the `custom_metadata` that the read (or list's LIST) they send anyway
 *   returns, at no cost.
 * - A conditional delete (`deleteSecretValuesIfUnchanged`, what `copySecrets` uses to delete a
 *   source): the same 3 requests as a delete, the values compared with the version read.
 * - Over a deleted secret, store reads the metadata and writes it (with the tombstone's version,
 *   see below) before a `cas` write of the next version; a read of the version made, only when a
 *   write's answer was lost and its retry met a version.
 * - An update or delete that finds a tombstone not destroyed (below): one destroy more.
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
 * List (issue 21). A deleted secret's key stays listed, so list must tell it from a live one. Once
 * its tombstone (version t) is written, the delete destroys version t by number (`<mount>/destroy`,
 * `versions: [.., t]`). `LIST <mount>/detailed-metadata/<prefix>/<owner>/?limit=&after=`
 * (OpenBao 2.x) returns each key's `current_version` and the state of its versions, so list skips
 * a key whose current version is destroyed, or deleted (`deletion_time` passed: deleted outside
 * omnisecret, what a read answers 404 for), without reading it. A store over it writes t+1, live
 * whatever order its writes and the destroy land in: a destroy by number never touches a later
 * version. Chosen over a `custom_metadata` mark (PATCH `omnisecret-tombstone: t`, same cost):
 * - custom_metadata is rewritten whole by a store over a deleted secret (its marks and the
 *   stored-over version) and checked by `verifyOwnership`; the destroy touches none of it, so a
 *   store that dies between its metadata write and its version leaves the deleted secret unlisted;
 * - it needs no `patch` capability: `update` on `<mount>/destroy/` is what a delete keeping more
 *   than one version needed already, and there the destroy it sent takes the tombstone too;
 * - a destroyed latest version is what a secret destroyed outside omnisecret looks like: reads
 *   answer 404, a store over it is free without reading the data, the fallback list skips it.
 *
 * What a deleted secret leaves (its metadata and the destroyed tombstone) is never removed: the
 * only removal, DELETE on the metadata, is unconditional, so a sweep between its check and its
 * DELETE would remove a secret stored again in between (and restart its version numbers); a lock
 * version written with `cas` first would need a lease, which a sweeper paused or delayed longer
 * (as the fault proxy's delay does) outlives. The cost is bounded instead: one LIST per
 * `listPageSize` keys, with no request per key. The ids are UUIDs, so keys accumulate only as
 * secrets are deleted.
 *
 * A delete whose destroy fails (after retries, within its deadline) still reports success: the
 * tombstone decided, and every read finds nothing. It remembers the id, and this adapter's list
 * reads the ids it remembers (and destroys such a tombstone), so within a process list and get
 * agree. Elsewhere the id is listed while get finds nothing, until an update or delete of it
 * (which answers not found and destroys the tombstone: one request more) or a store. The same
 * for a delete that failed with its tombstone write unanswered.
 *
 * Where `detailed-metadata` is missing (HashiCorp Vault answers 404 "Invalid path for a versioned
 * K/V secrets engine"; 405 too) the adapter notes it and lists by reads from then on; where the
 * token may not LIST it (403), the same once the LIST of the metadata is allowed. Vault 1.14.8's
 * answer, and the requests list then sends, are checked in integration-tests/servers/vault/hashicorp.test.ts.
 *
 * Versions through omnisecret (issue 23). Each update is a new KV v2 version, numbered by Vault;
 * the latest `keepVersions` of the current secret are readable through omnisecret, and Vault
 * removes older ones at its `max_versions` (the larger of the secret's and the mount's, so a mount
 * keeping more keeps them readable in Vault itself, never through omnisecret). Requests:
 * listSecretVersions 2 (the latest version and the metadata, in parallel); a get of "previous" or
 * of a token 2 as well, plus the read of that version (`GET <mount>/data/<path>?version=N`) unless
 * it is the latest; a token of another shape is refused before any request. get, store, update,
 * delete and list send what they sent before, whatever `keepVersions` is.
 *
 * A token is `<incarnation>.<N>`, N the version number, the incarnation the metadata's
 * `created_time`. That time alone does not name the secret: a delete leaves the metadata (the
 * tombstone above), so a secret stored again over it keeps the deleted one's `created_time` and
 * continues its numbers. What starts a secret is its stored-over mark (written before its first
 * version, returned with every read of the data): the versions of the current secret are those
 * above it, and everything at or below it (the deleted secrets' versions, their tombstones) is an
 * earlier secret's, never listed, and a token of it is not found. Numbers never restart while the
 * metadata lives, so an old token's N is always at or below the mark. Only a DELETE of the
 * metadata outside omnisecret restarts them; then `created_time` differs, except that OpenBao 2.x
 * gives it in whole seconds: metadata deleted and made again within the same second is not told
 * apart from the old (an old token of version N could read the new secret's version N).
 * A version whose latest read finds a tombstone not destroyed is a deleted secret: not found, as get.
 *
 * getSecretRevision (what a watch polls): 1, the read of the metadata (no value read).
 *
 * Every operation is bounded by `operationTimeoutMs`, each request by `requestTimeoutMs`.
 */
import type { Agent as HttpsAgent } from "node:https";
import { debuglog } from "node:util";
import nodeVault from "node-vault";
import {
  type AdapterCapabilities,
  type AdapterContext,
  checkStoredValues,
  type Deadline,
  DeadlineBoundAdapter,
  InvalidVersionError,
  incarnationOf,
  isCanonicalSecretId,
  Ownership,
  ProviderUnavailableError,
  parseVersionToken,
  RequestRunner,
  SecretAlreadyExistsError,
  SecretChangedError,
  SecretIntegrityError,
  SecretNotFoundError,
  SecretStoreError,
  type SecretsAdapter,
  type SecretValues,
  type SecretVersion,
  trustedCas,
  trustingAgent,
  versionToken,
} from "../../src/kit/index.js";
import { AppRoleSession } from "./approle.js";
import {
  asVaultRequest,
  isCheckAndSetMismatch,
  isRetryable,
  isUnsupportedPath,
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
  /** When the metadata was made: the path's life, which omnisecret's deletes do not end (see "Versions through omnisecret"). */
  created_time?: string;
  current_version: number;
  versions: Record<string, { created_time?: string; deletion_time: string; destroyed: boolean }>;
  max_versions?: number;
  custom_metadata?: CustomMetadata;
}

/** The `custom_metadata` marks: who wrote a secret, for people, for list, and for `verifyOwnership`. */
const MANAGED_BY_MARK = "managed-by";
const OWNER_MARK = "omnisecret-owner";
const ID_MARK = "omnisecret-id";

/** A secret's path below the mount, `<prefix>/<owner>/<uuid>`, and its marks. */
const NAMING = { separator: "/", marks: { managedBy: MANAGED_BY_MARK, owner: OWNER_MARK, id: ID_MARK } } as const;

/** What KV v2 keeps when neither the secret nor the mount sets `max_versions`. */
const VAULT_DEFAULT_MAX_VERSIONS = 10;

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

/** The native part of a version token: a KV v2 version number. */
const VERSION_NUMBER = /^[1-9][0-9]{0,14}$/;

/**
 * What listSecretVersions and a versioned get read first: the latest version (live, this owner's),
 * the incarnation part of the tokens, and the versions of this secret (not of one deleted before it).
 */
interface History {
  readonly latest: LatestVersion;
  readonly incarnation: string;
  /** The first version of this secret: the one after its stored-over mark (1 when it never was stored over one). */
  readonly first: number;
  readonly versions: SecretMetadata["versions"];
}

/** The data of a deleted secret's last version; its empty key is one the facade never lets a caller store. */
const TOMBSTONE: SecretValues = Object.freeze({ "": "omnisecret:deleted" });

function isTombstone(data: unknown): boolean {
  return typeof data === "object" && data !== null && Object.hasOwn(data, "");
}

/** What a read of a secret's latest version tells: its version, and its values unless it is deleted. */
interface LatestVersion {
  readonly kind: "live";
  readonly version: number;
  readonly values: Record<string, unknown>;
  readonly customMetadata?: CustomMetadata;
}

/** A readable tombstone: a delete wrote it and could not destroy it yet (see `#delete`). */
interface TombstoneVersion {
  readonly kind: "tombstone";
  readonly version: number;
  readonly customMetadata?: CustomMetadata;
}

type CustomMetadata = Record<string, string> | null | undefined;

/** Whether `data` holds exactly `values`: the same keys, the same strings. */
function holdsExactly(data: Record<string, unknown>, values: SecretValues): boolean {
  const stored = Object.entries(data);
  return (
    stored.length === Object.keys(values).length &&
    stored.every(([key, value]) => Object.hasOwn(values, key) && values[key] === value)
  );
}

export class VaultAdapter extends DeadlineBoundAdapter {
  readonly provider = PROVIDER;
  readonly capabilities: AdapterCapabilities;
  readonly #client: nodeVault.client;
  /** The keep-alive agent this adapter made for `caCertFile`, closed with it. */
  readonly #agent: HttpsAgent | undefined;
  readonly #options: ResolvedVaultOptions;
  readonly #ownership: Ownership;
  /** The mount's `max_versions`, read once (see `#mountMaxVersions`). */
  #mountConfig: Promise<number | undefined> | undefined;
  /** Its requests: retried with backoff, and with `appRole` signed in first (and again after a 403). */
  readonly #requests: RequestRunner;
  /**
   * Ids whose delete by this adapter wrote (or may have written) a tombstone it could not destroy:
   * a LIST of the detailed metadata shows them as live, so list reads these alone.
   */
  readonly #unmarked = new Set<string>();
  /** How list asks: `detailed` once `detailed-metadata` answered, `reads` once the server showed it has none. */
  #listMode: "detailed" | "reads" | undefined;

  constructor(options: ResolvedVaultOptions, context: AdapterContext) {
    super(options);
    this.#options = options;
    this.#ownership = new Ownership({ prefix: context.prefix, owner: options.owner, ...NAMING });
    this.capabilities = {
      maxValueBytes: options.maxValueBytes,
      conditionalDelete: true,
      list: true,
      versions: true,
      revision: true,
    };
    // The options type describes an injected client structurally, so it compiles without node-vault.
    const made = options.client
      ? { client: options.client as nodeVault.client, agent: undefined }
      : createClient(options);
    this.#client = made.client;
    this.#agent = made.agent;
    const appRole = options.appRole
      ? new AppRoleSession(this.#client, options.appRole, options.maxAttempts)
      : undefined;
    this.#requests = new RequestRunner({
      attempts: options.maxAttempts,
      isRetryable,
      mapError: (error, id) => this.#map(error, id),
      // An injected client comes signed in; it logs in again only after a 403.
      prepare: () => (options.client ? undefined : appRole?.ensureToken()),
      renewAfter: (error) =>
        appRole !== undefined && error instanceof VaultRequestError && error.statusCode === 403
          ? appRole.logIn(true).then(() => true)
          : false,
    });
  }

  /** Closes the idle keep-alive connections of the `caCertFile` agent (node-vault's own agents cannot be closed). */
  close(): void {
    this.#agent?.destroy();
  }

  /**
   * The data write decides the outcome: once it is made, the secret is stored. The metadata write
   * that may follow (`max_versions` on a mount keeping fewer versions; the marks) is best effort
   * in the default mode: if it fails, store still reports the truth (stored), and the next update
   * writes the metadata before its own version. With `verifyOwnership` the marks are what make the
   * secret this owner's, so there their failure fails the store (see `#recreateOverDeletedVersion`
   * for the retry that finishes it).
   */
  protected override async storeValues(
    id: string,
    values: SecretValues,
    _serialized: string,
    deadline: Deadline,
  ): Promise<void> {
    // Sent beside the first write rather than before it; later stores find it answered.
    const mountMaxVersions = this.#options.verifyOwnership ? undefined : this.#mountMaxVersions(deadline);
    try {
      // cas 0: written only if no version exists, so of racing stores exactly one wins.
      await this.#writeVersion(deadline, id, values, 0);
    } catch (error) {
      if (!(error instanceof VaultRequestError && isCheckAndSetMismatch(error))) throw this.#map(error, id);
      // That path writes the metadata itself, with the mark a slow delete looks for.
      await this.#recreateOverDeletedVersion(deadline, id, values, error);
      this.#unmarked.delete(id);
      return;
    }
    this.#unmarked.delete(id);
    await this.#finishCreate(deadline, id, mountMaxVersions);
  }

  /** The metadata a secret just created with `cas: 0` needs, if any (see `storeValues`). */
  async #finishCreate(deadline: Deadline, id: string, mountMaxVersions?: Promise<number | undefined>): Promise<void> {
    if (this.#options.verifyOwnership) {
      await this.#writeMetadata(deadline, id);
      return;
    }
    if (!this.#needsOwnMaxVersions(await (mountMaxVersions ?? this.#mountMaxVersions(deadline)))) return;
    try {
      await this.#writeMetadata(deadline, id);
    } catch {
      debug("vault: secret %s was stored, but its metadata was not written; the next update writes it", id);
    }
  }

  protected override async readValues(id: string, deadline: Deadline, version?: string): Promise<SecretValues> {
    if (version !== undefined) return this.#readVersion(deadline, id, version);
    const latest = await this.#latest(deadline, id);
    if (!latest) throw new SecretNotFoundError(id, { provider: PROVIDER });
    return checkStoredValues(latest.values, id, PROVIDER);
  }

  /** A token's shape: `<incarnation>.<KV v2 version number>`. */
  isVersionToken(token: string): boolean {
    return parseVersionToken(token, VERSION_NUMBER) !== undefined;
  }

  /**
   * This secret's versions that Vault still lists, newest first: those of earlier secrets of the
   * same id (at or below the stored-over mark, tombstones among them) left out; readable only the
   * latest `keepVersions`, and of those the ones neither deleted nor destroyed in Vault.
   */
  protected override async listVersions(id: string, deadline: Deadline): Promise<readonly SecretVersion[]> {
    const history = await this.#history(deadline, id);
    const current = history.latest.version;
    const listed: { number: number; version: SecretVersion }[] = [];
    for (const [key, state] of Object.entries(history.versions ?? {})) {
      const number = Number(key);
      // Numbers above the latest read were written since it: not yet this history's.
      if (!Number.isSafeInteger(number) || number < history.first || number > current) continue;
      const createdAt = new Date(state.created_time ?? Number.NaN);
      listed.push({
        number,
        version: {
          token: versionToken(history.incarnation, number),
          createdAt,
          current: number === current,
          readable: number > current - this.#options.keepVersions && !versionIsGone(state),
        },
      });
    }
    return listed.sort((a, b) => b.number - a.number).map((entry) => entry.version);
  }

  /**
   * Reads `"previous"` (the version before the latest) or a token's version. Refused as not found:
   * a version of an earlier secret of this id (another incarnation, or at or below the stored-over
   * mark), one beyond the latest `keepVersions` (Vault may keep more, see the opening comment),
   * and one deleted or destroyed in Vault.
   */
  async #readVersion(deadline: Deadline, id: string, selector: string): Promise<SecretValues> {
    const token = selector === "previous" ? undefined : parseVersionToken(selector, VERSION_NUMBER);
    if (selector !== "previous" && !token) {
      throw new InvalidVersionError(id, "is not a Vault version token", { provider: PROVIDER });
    }
    const history = await this.#history(deadline, id);
    const current = history.latest.version;
    const keep = this.#options.keepVersions;
    let number: number;
    if (token === undefined) {
      number = current - 1;
      if (number < history.first) throw this.#versionNotFound(id, `secret ${id} has no previous version`);
      if (number <= current - keep) {
        throw this.#versionNotFound(id, `the previous version of secret ${id} is not kept (keepVersions is ${keep})`);
      }
    } else {
      number = Number(token.native);
      if (token.incarnation !== history.incarnation || number < history.first || number > current) {
        throw this.#versionNotFound(
          id,
          `version ${selector} of secret ${id} is gone: it belonged to a secret deleted since`,
        );
      }
      if (number <= current - keep) {
        throw this.#versionNotFound(
          id,
          `version ${selector} of secret ${id} was pruned: keepVersions ${keep} keeps the latest ${keep}`,
        );
      }
    }
    if (number === current) return checkStoredValues(history.latest.values, id, PROVIDER);
    let body: { data?: { data?: unknown; metadata?: { version?: number } } } | undefined;
    try {
      body = (await this.#request(deadline, () =>
        this.#client.read(`${this.#dataPath(id)}?version=${number}`),
      )) as typeof body;
    } catch (error) {
      if (!(error instanceof VaultRequestError && error.statusCode === 404)) throw this.#map(error, id);
    }
    const data = body?.data?.data;
    // 404 (or no data): deleted or destroyed in Vault, or pruned by its max_versions meanwhile.
    if (typeof data !== "object" || data === null || isTombstone(data) || body?.data?.metadata?.version !== number) {
      const which = selector === "previous" ? "the previous version" : `version ${selector}`;
      throw this.#versionNotFound(id, `${which} of secret ${id} is gone: deleted or destroyed in Vault`);
    }
    return checkStoredValues(data as Record<string, unknown>, id, PROVIDER);
  }

  /**
   * The latest version and the metadata, read together (2 requests). The latest read tells a
   * tombstone not destroyed (a deleted secret) and another owner's secret, as get does, and gives
   * the stored-over mark; the metadata gives the incarnation (its `created_time`) and the versions.
   */
  async #history(deadline: Deadline, id: string): Promise<History> {
    const [latest, read] = await Promise.all([this.#latest(deadline, id), this.#readMetadata(deadline, id)]);
    let metadata = read;
    // Read before a write the latest read saw: read again, so the latest is among the versions.
    if (latest && metadata && metadata.current_version < latest.version)
      metadata = await this.#readMetadata(deadline, id);
    const created = Date.parse(metadata?.created_time ?? "");
    if (!latest || !metadata || Number.isNaN(created)) throw new SecretNotFoundError(id, { provider: PROVIDER });
    const storedOver = Number(latest.customMetadata?.[STORED_OVER_MARK] ?? 0);
    return {
      latest,
      incarnation: incarnationOf(created),
      first: (Number.isSafeInteger(storedOver) && storedOver > 0 ? storedOver : 0) + 1,
      versions: metadata.versions ?? {},
    };
  }

  /**
   * One read of the metadata: `created_time` (the path's life) and `current_version`, which every
   * write (a store over a tombstone, an update, a delete's tombstone) moves on. A current version
   * destroyed or deleted is a deleted secret; a tombstone whose destroy failed still looks live
   * here, so its revision moves and the watch's read of the values finds it deleted.
   */
  protected override async readRevision(id: string, deadline: Deadline): Promise<string> {
    const metadata = await this.#readMetadata(deadline, id);
    const current = metadata?.versions?.[String(metadata.current_version)];
    const deletedAt = Date.parse(current?.deletion_time ?? "");
    if (!metadata || !current || current.destroyed || deletedAt <= Date.now()) {
      throw new SecretNotFoundError(id, { provider: PROVIDER });
    }
    if (this.#options.verifyOwnership && !this.#ownership.isOwned(metadata.custom_metadata, id)) {
      throw new SecretNotFoundError(id, { provider: PROVIDER });
    }
    return `${metadata.created_time ?? ""}.${metadata.current_version}`;
  }

  /** The secret's metadata, or undefined when there is none (404). */
  async #readMetadata(deadline: Deadline, id: string): Promise<SecretMetadata | undefined> {
    try {
      const body = (await this.#request(deadline, () => this.#client.read(this.#metadataPath(id)))) as {
        data?: SecretMetadata;
      };
      return body?.data;
    } catch (error) {
      if (error instanceof VaultRequestError && error.statusCode === 404) return undefined;
      throw this.#map(error, id);
    }
  }

  #versionNotFound(id: string, message: string): SecretNotFoundError {
    return new SecretNotFoundError(id, { provider: PROVIDER, message });
  }

  protected override async updateValues(
    id: string,
    values: SecretValues,
    _serialized: string,
    deadline: Deadline,
  ): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const latest = await this.#latest(deadline, id, attempt === 1);
      if (!latest) throw new SecretNotFoundError(id, { provider: PROVIDER });
      // A store that could not write the metadata the mount needs: written now, so max_versions
      // holds before a second version. Never on a mount that keeps keepVersions itself.
      if (
        attempt === 1 &&
        !this.#hasOwnMetadata(id, latest.customMetadata) &&
        this.#needsOwnMaxVersions(await this.#mountMaxVersions(deadline))
      ) {
        await this.#writeMetadata(deadline, id);
      }
      try {
        // cas = the version just read: the write fails rather than bring back a secret deleted meanwhile.
        await this.#request(deadline, () =>
          this.#client.write(this.#dataPath(id), new JsonBody({ data: values, options: { cas: latest.version } })),
        );
        return;
      } catch (error) {
        const conflict = error instanceof VaultRequestError && isCheckAndSetMismatch(error);
        if (!conflict || attempt >= UPDATE_CONFLICT_ATTEMPTS) throw this.#map(error, id, "update");
      }
    }
  }

  protected override deleteValues(id: string, deadline: Deadline): Promise<void> {
    return this.#delete(id, deadline, undefined);
  }

  /**
   * The tombstone's `cas` on the version read makes this atomic: the values compared are the
   * version the tombstone replaces, and a write in between fails the `cas` (SecretChangedError).
   */
  protected override deleteValuesIfUnchanged(id: string, expected: SecretValues, deadline: Deadline): Promise<void> {
    return this.#delete(id, deadline, expected);
  }

  async #delete(id: string, deadline: Deadline, expected: SecretValues | undefined): Promise<void> {
    // Whether versions below the tombstone need destroying depends on the mount; asked once, beside the read.
    const mountMaxVersions = this.#mountMaxVersions(deadline);
    let latest = await this.#latest(deadline, id, true);
    for (let attempt = 1; ; attempt += 1) {
      if (!latest) throw new SecretNotFoundError(id, { provider: PROVIDER });
      if (expected !== undefined && !holdsExactly(latest.values, expected)) {
        throw new SecretChangedError(id, { provider: PROVIDER });
      }
      try {
        await this.#writeVersion(deadline, id, TOMBSTONE, latest.version);
      } catch (error) {
        if (!(error instanceof VaultRequestError && isCheckAndSetMismatch(error))) {
          // The tombstone may have been written all the same (its answer lost): list checks this id.
          this.#unmarked.add(id);
          throw this.#map(error, id);
        }
        // Another writer came first. Gone now, or deleted and stored again since (the new secret
        // is marked as stored over a tombstone after the version read): this delete's
        // secret was deleted by someone else, and the new one is not this delete's to remove.
        // Otherwise updates came first: delete the newest version.
        const now = await this.#latest(deadline, id);
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
      // The secret is deleted: the tombstone decided. Its version is destroyed now, so that a LIST of
      // the detailed metadata shows it as deleted, with the versions below it that a mount keeping
      // more than one still has (with one version kept, the tombstone pushed the values out).
      const kept = this.#keptVersions(await mountMaxVersions, this.#hasOwnMetadata(id, latest.customMetadata));
      const tombstone = latest.version + 1;
      try {
        await this.#destroyVersions(deadline, id, Math.max(1, tombstone - kept), tombstone);
        this.#unmarked.delete(id);
      } catch (error) {
        // Reported deleted all the same (every read finds nothing), and remembered, so this
        // adapter's list checks the id; elsewhere it is listed until an update, delete or store of it.
        this.#unmarked.add(id);
        debug("vault: secret %s was deleted, but its tombstone was not destroyed: %s", id, String(error));
      }
      return;
    }
  }

  /**
   * Destroys a tombstone that a delete wrote but could not destroy (see `#delete`), found by an
   * update or delete of its id: best effort, since the caller answers not found either way.
   */
  async #finishDelete(deadline: Deadline, id: string, tombstone: TombstoneVersion): Promise<void> {
    if (this.#options.verifyOwnership && !this.#ownership.isOwned(tombstone.customMetadata, id)) return;
    try {
      await this.#destroyVersions(deadline, id, tombstone.version, tombstone.version);
      this.#unmarked.delete(id);
    } catch (error) {
      debug("vault: the tombstone of secret %s was not destroyed: %s", id, String(error));
    }
  }

  /**
   * The secret's latest version, or undefined when there is none to read: no secret, a latest
   * version deleted or destroyed outside omnisecret (Vault answers 404), omnisecret's tombstone,
   * or, with `verifyOwnership`, a secret whose marks are not this owner's and this id's.
   *
   * `finishDelete` (update, delete, and list for an id in `#unmarked`): a tombstone still readable
   * is one whose delete could not destroy it, destroyed now; a read that finds none settles the
   * id, so list stops reading it. get leaves both alone: a read stays one request.
   */
  async #latest(deadline: Deadline, id: string, finishDelete = false): Promise<LatestVersion | undefined> {
    const read = await this.#readLatestOrTombstone(deadline, id);
    if (read?.kind === "tombstone") {
      if (finishDelete) await this.#finishDelete(deadline, id, read);
      return undefined;
    }
    if (finishDelete) this.#unmarked.delete(id);
    if (read && this.#options.verifyOwnership && !this.#ownership.isOwned(read.customMetadata, id)) {
      debug("vault: secret %s is not marked as this owner's; treated as not found", id);
      return undefined;
    }
    return read;
  }

  /** The secret's latest version, whoever's it is (see `#latest`). */
  async #readLatest(deadline: Deadline, id: string): Promise<LatestVersion | undefined> {
    const read = await this.#readLatestOrTombstone(deadline, id);
    return read?.kind === "live" ? read : undefined;
  }

  /** The secret's latest version, omnisecret's tombstone told apart, or undefined when none is readable. */
  async #readLatestOrTombstone(deadline: Deadline, id: string): Promise<LatestVersion | TombstoneVersion | undefined> {
    let body: { data?: { data?: unknown; metadata?: { version?: number; custom_metadata?: unknown } } } | undefined;
    try {
      body = (await this.#request(deadline, () => this.#client.read(this.#dataPath(id)))) as typeof body;
    } catch (error) {
      if (error instanceof VaultRequestError && error.statusCode === 404) return undefined;
      throw this.#map(error, id);
    }
    const data = body?.data?.data;
    const version = body?.data?.metadata?.version;
    const customMetadata = body?.data?.metadata?.custom_metadata as CustomMetadata;
    if (data === null || data === undefined) return undefined;
    if (isTombstone(data)) {
      return typeof version === "number" ? { kind: "tombstone", version, customMetadata } : undefined;
    }
    if (typeof data !== "object" || typeof version !== "number") {
      throw new SecretIntegrityError(id, "Vault's answer has no data map or version", { provider: PROVIDER });
    }
    return { kind: "live", version, values: data as Record<string, unknown>, customMetadata };
  }

  /** Whether omnisecret wrote this secret's metadata (its `max_versions` with the marks). */
  #hasOwnMetadata(id: string, marks: CustomMetadata): boolean {
    return marks?.[ID_MARK] === id;
  }

  /**
   * The mount's `max_versions` (0: not set), read once per adapter: undefined when the token may
   * not read `<mount>/config` (403) or there is none (404). Any other failure is not kept, so the
   * next write asks again; meanwhile the caller acts as for an unknown mount.
   */
  #mountMaxVersions(deadline: Deadline): Promise<number | undefined> {
    this.#mountConfig ??= (async () => {
      try {
        const body = (await this.#request(deadline, () => this.#client.read(`${this.#options.mount}/config`))) as {
          data?: { max_versions?: unknown };
        };
        const maxVersions = body?.data?.max_versions;
        return typeof maxVersions === "number" ? maxVersions : undefined;
      } catch (error) {
        const final = error instanceof VaultRequestError && (error.statusCode === 403 || error.statusCode === 404);
        if (!final) this.#mountConfig = undefined;
        debug(
          "vault: the config of mount %s could not be read; each store writes its secret's max_versions",
          this.#options.mount,
        );
        return undefined;
      }
    })();
    return this.#mountConfig;
  }

  /**
   * Whether a secret needs its own `max_versions` for `keepVersions` to hold: unless the mount
   * keeps that many or more. Vault keeps the larger of the two settings, so on a mount keeping
   * more, a secret's own setting changes nothing.
   */
  #needsOwnMaxVersions(mountMaxVersions: number | undefined): boolean {
    return mountMaxVersions === undefined || mountMaxVersions < this.#options.keepVersions;
  }

  /**
   * Versions Vault keeps of a secret: the larger of its own `max_versions` (written with
   * omnisecret's metadata) and the mount's, or Vault's default when neither is set. A mount whose
   * config could not be read is taken as not set.
   */
  #keptVersions(mountMaxVersions: number | undefined, hasOwnMetadata: boolean): number {
    const own = hasOwnMetadata ? this.#options.keepVersions : 0;
    return Math.max(own, mountMaxVersions ?? 0) || VAULT_DEFAULT_MAX_VERSIONS;
  }

  /**
   * Destroys versions `first` to `last` of a secret, by number: versions written since are never
   * touched, and since version numbers never restart (no DELETE on the metadata), a number names
   * one version for good. Vault answers 204 for versions it no longer keeps, so this can be sent again.
   */
  async #destroyVersions(deadline: Deadline, id: string, first: number, last: number): Promise<void> {
    const versions = Array.from({ length: last - first + 1 }, (_, index) => first + index);
    await this.#send(deadline, id, () =>
      this.#client.write(`${this.#options.mount}/destroy/${this.#ownership.nameOf(id)}`, { versions }),
    );
  }

  protected override async *listIds(stepDeadline: () => Deadline): AsyncIterable<string> {
    if (this.#listMode !== "reads") {
      const listed = yield* this.#listDetailed(stepDeadline);
      if (listed) return;
    }
    yield* this.#listByReads(stepDeadline);
  }

  /**
   * Pages of `LIST <mount>/detailed-metadata/<prefix>/<owner>/` (OpenBao 2.x): each key's
   * `current_version` and the state of its versions come with the key, so a deleted secret (its
   * latest version destroyed or deleted) is skipped without a read. Answers false, having yielded
   * nothing, when the server has no such endpoint (HashiCorp Vault) or the token may not use it:
   * list then reads per key (`#listByReads`).
   */
  async *#listDetailed(stepDeadline: () => Deadline): AsyncGenerator<string, boolean> {
    const pageSize = this.#options.listPageSize;
    const seen = new Set<string>();
    let after: string | undefined;
    for (;;) {
      const query = `?limit=${pageSize}${after === undefined ? "" : `&after=${encodeURIComponent(after)}`}`;
      let page: { keys?: unknown[]; key_info?: Record<string, SecretMetadata | undefined> } | undefined;
      try {
        const body = (await this.#request(stepDeadline(), () =>
          this.#client.list(`${this.#options.mount}/detailed-metadata/${this.#ownership.nameStart}${query}`),
        )) as { data?: typeof page };
        page = body?.data;
      } catch (error) {
        if (after === undefined && this.#listMode === undefined && error instanceof VaultRequestError) {
          // No such endpoint: the answer is the server's for good. Refused (403): perhaps only the
          // policy; list reads per key, and asks again next time unless that works.
          if (isUnsupportedPath(error)) {
            this.#listMode = "reads";
            debug("vault: %s has no detailed-metadata; list reads each listed secret", this.#options.address);
            return false;
          }
          if (error.statusCode === 403) return false;
        }
        // LIST answers 404 when nothing is stored under the owner's folder.
        if (error instanceof VaultRequestError && error.statusCode === 404 && !isUnsupportedPath(error)) return true;
        throw this.#map(error, undefined);
      }
      this.#listMode = "detailed";
      const keys = (page?.keys ?? []).filter((key): key is string => typeof key === "string");
      // A server that ignores `after` would send the same page again.
      if (keys.length > 0 && seen.has(keys[0] as string)) return true;
      for (const key of keys) {
        seen.add(key);
        // The keys are the ids, and any folder (`x/`) someone made beside them.
        if (!isCanonicalSecretId(key)) continue;
        const metadata = page?.key_info?.[key];
        if (!metadata || latestVersionIsGone(metadata)) continue;
        if (this.#options.verifyOwnership && !this.#ownership.isOwned(metadata.custom_metadata, key)) continue;
        // An id this adapter's delete may have left as a tombstone not destroyed: read, and finished if so.
        if (this.#unmarked.has(key) && !(await this.#latest(stepDeadline(), key, true))) continue;
        yield key;
      }
      // A page shorter than asked for is the last; one longer means the server ignored `limit` and sent all.
      if (keys.length !== pageSize) return true;
      after = keys[keys.length - 1];
    }
  }

  /**
   * Where `detailed-metadata` is missing (HashiCorp Vault) or refused: LIST of the metadata, which
   * shows the keys alone, deleted secrets too, then a read of each id's latest version.
   */
  async *#listByReads(stepDeadline: () => Deadline): AsyncGenerator<string> {
    let keys: unknown[] = [];
    try {
      const body = (await this.#request(stepDeadline(), () =>
        this.#client.list(`${this.#options.mount}/metadata/${this.#ownership.nameStart}`),
      )) as {
        data?: { keys?: unknown[] };
      };
      keys = body?.data?.keys ?? [];
    } catch (error) {
      // LIST answers 404 when nothing is stored under the owner's folder.
      if (error instanceof VaultRequestError && error.statusCode === 404) return;
      throw this.#map(error, undefined);
    }
    // The detailed LIST was refused (403) but this one was not: the policy's, so not asked again.
    this.#listMode ??= "reads";
    const ids = keys.filter((key): key is string => typeof key === "string" && isCanonicalSecretId(key));
    for (let start = 0; start < ids.length; start += LIST_READ_CONCURRENCY) {
      const batch = ids.slice(start, start + LIST_READ_CONCURRENCY);
      const live = await Promise.all(
        batch.map(async (id) => ((await this.#latest(stepDeadline(), id)) ? id : undefined)),
      );
      for (const id of live) if (id !== undefined) yield id;
    }
  }

  #dataPath(id: string): string {
    return `${this.#options.mount}/data/${this.#ownership.nameOf(id)}`;
  }

  #metadataPath(id: string): string {
    return `${this.#options.mount}/metadata/${this.#ownership.nameOf(id)}`;
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
  async #writeVersion(deadline: Deadline, id: string, values: SecretValues, cas: number): Promise<void> {
    let unanswered = false;
    try {
      await this.#request(deadline, async () => {
        try {
          return await this.#client.write(this.#dataPath(id), new JsonBody({ data: values, options: { cas } }));
        } catch (error) {
          if (isRetryable(toVaultRequestError(error))) unanswered = true;
          throw error;
        }
      });
    } catch (error) {
      const mismatch = error instanceof VaultRequestError && isCheckAndSetMismatch(error);
      if (mismatch && unanswered && (await this.#versionHolds(deadline, id, cas + 1, values))) return;
      throw error;
    }
  }

  /** Whether version `version` of the secret is live and holds exactly `values`. */
  async #versionHolds(deadline: Deadline, id: string, version: number, values: SecretValues): Promise<boolean> {
    let body: { data?: { data?: unknown; metadata?: { version?: number } } } | undefined;
    try {
      body = (await this.#request(deadline, () =>
        this.#client.read(`${this.#dataPath(id)}?version=${version}`),
      )) as typeof body;
    } catch (error) {
      if (error instanceof VaultRequestError && error.statusCode === 404) return false;
      throw error;
    }
    const data = body?.data?.data;
    if (body?.data?.metadata?.version !== version || typeof data !== "object" || data === null) return false;
    return holdsExactly(data as Record<string, unknown>, values);
  }

  /** Keeps `keepVersions` versions of this secret (not of the whole mount) and marks it as this owner's. */
  async #writeMetadata(deadline: Deadline, id: string, storedOverVersion?: number): Promise<void> {
    const marks = this.#ownership.marksFor(id);
    if (storedOverVersion !== undefined) marks[STORED_OVER_MARK] = String(storedOverVersion);
    await this.#send(deadline, id, () =>
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
  async #recreateOverDeletedVersion(
    deadline: Deadline,
    id: string,
    values: SecretValues,
    mismatch: VaultRequestError,
  ): Promise<void> {
    let metadata: SecretMetadata | undefined;
    try {
      metadata = (
        (await this.#request(deadline, () => this.#client.read(this.#metadataPath(id)))) as { data?: SecretMetadata }
      )?.data;
    } catch (error) {
      // Removed since the create failed (a DELETE on its metadata, outside omnisecret): the id is
      // free, and the store is this create's to try again. Never "not found" from a store.
      if (error instanceof VaultRequestError && error.statusCode === 404)
        return this.#createAgain(deadline, id, values, mismatch);
      throw this.#map(error, id);
    }
    if (!metadata) throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: mismatch });
    if (this.#options.verifyOwnership && !this.#ownership.isOwned(metadata.custom_metadata, id)) {
      return this.#finishUnmarkedStore(deadline, id, values, metadata.custom_metadata, mismatch);
    }
    // Deleted by omnisecret (a tombstone) or outside it (soft-deleted or destroyed): free to store.
    const free = latestVersionIsGone(metadata) || (await this.#readLatest(deadline, id)) === undefined;
    if (!free) throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: mismatch });
    // Marked before the new secret is written, so a delete that read the old secret and lost its
    // check-and-set to the tombstone can tell the secret was deleted, not merely updated.
    await this.#writeMetadata(deadline, id, metadata.current_version);
    try {
      await this.#writeVersion(deadline, id, values, metadata.current_version);
    } catch (error) {
      throw this.#map(error, id);
    }
  }

  /**
   * With `verifyOwnership`, a store that meets a secret not marked as this owner's refuses it,
   * whether live or deleted: never touched. One exception finishes this owner's own store whose
   * marks could not be written (it failed after the data write): a secret with no marks at all
   * whose values are exactly the ones being stored gets its marks. As for a lost answer (see
   * `#writeVersion`), that can only be taken for a success wrongly when someone else put exactly
   * these values there, and the secret then holds exactly what this caller asked for.
   */
  async #finishUnmarkedStore(
    deadline: Deadline,
    id: string,
    values: SecretValues,
    marks: CustomMetadata,
    mismatch: VaultRequestError,
  ): Promise<void> {
    const latest = this.#ownership.isUnmarked(marks) ? await this.#readLatest(deadline, id) : undefined;
    if (!latest || !holdsExactly(latest.values, values)) {
      throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: mismatch });
    }
    await this.#writeMetadata(deadline, id);
  }

  async #createAgain(deadline: Deadline, id: string, values: SecretValues, mismatch: VaultRequestError): Promise<void> {
    try {
      await this.#writeVersion(deadline, id, values, 0);
    } catch (error) {
      if (error instanceof VaultRequestError && isCheckAndSetMismatch(error)) {
        throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: mismatch });
      }
      throw this.#map(error, id);
    }
    await this.#finishCreate(deadline, id);
  }

  #send<T>(deadline: Deadline, id: string | undefined, request: () => Promise<T>): Promise<T> {
    return this.#requests.send(deadline, id, asVaultRequest(request));
  }

  /**
   * Sends a request with a valid token, retrying 429, 5xx and unanswered requests with backoff,
   * and a 403 once after a fresh AppRole login (the token expired or was revoked). Throws
   * `VaultRequestError`.
   */
  #request<T>(deadline: Deadline, request: () => Promise<T>): Promise<T> {
    return this.#requests.run(deadline, asVaultRequest(request));
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
  return !latest || versionIsGone(latest);
}

/** Destroyed, or deleted (a `deletion_time` passed): reads of it answer 404. */
function versionIsGone(state: { deletion_time: string; destroyed: boolean }): boolean {
  if (state.destroyed) return true;
  return state.deletion_time !== "" && Date.parse(state.deletion_time) <= Date.now();
}

/**
 * The node-vault client of a config, and the agent it was given (the adapter's to close), if any.
 *
 * With `caCertFile`, the client gets the kit's keep-alive agent (src/kit/tls-trust.ts: the
 * system's CAs, NODE_EXTRA_CA_CERTS's and the file's, in one secure context), not `ca` in its
 * request options: node-vault turns `ca` into an `https.Agent` without keep-alive (a TLS handshake
 * on every request). The agent checks the certificate and the host name.
 */
function createClient(options: ResolvedVaultOptions): { client: nodeVault.client; agent: HttpsAgent | undefined } {
  let agent: HttpsAgent | undefined;
  if (options.caCertFile) {
    // Read (and refused when unreadable) whatever the address; a plain-http address has no use for it.
    const cas = trustedCas(options.caCertFile, PROVIDER);
    if (options.address.startsWith("https:")) agent = trustingAgent(cas);
  }
  const client = nodeVault({
    endpoint: options.address,
    ...(options.token ? { token: options.token } : {}),
    ...(options.namespace ? { namespace: options.namespace } : {}),
    requestOptions: { timeout: options.requestTimeoutMs, ...(agent ? { httpsAgent: agent } : {}) },
    // node-vault's own debug output prints request bodies, which are secret values.
    debug: () => undefined,
    // TLS stays verified: VAULT_SKIP_VERIFY, which node-vault honours by default, is ignored.
    rpDefaults: { strictSSL: true },
  } as nodeVault.VaultOptions);
  return { client, agent };
}

export function createVaultAdapter(options: ResolvedVaultOptions, context: AdapterContext): SecretsAdapter {
  return new VaultAdapter(options, context);
}
