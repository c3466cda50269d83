/**
 * Google Cloud Secret Manager. A secret is named `projects/<project>/secrets/<prefix>-<owner>-<uuid>`,
 * so the name alone says whose it is, and labelled `managed-by: omnisecret`,
 * `omnisecret-owner: <owner>` and `omnisecret-id: <uuid>` (for people, for list in strict mode and
 * for `verifyOwnership`). Its values are the JSON of the map, the payload of its latest version.
 *
 * Requests, default config:
 * - store 2: CreateSecret (labels; ALREADY_EXISTS on a taken id), then AddSecretVersion with the
 *   payload's CRC32C. More only in rare cases: see "half-made secrets" below.
 * - get 1: AccessSecretVersion of `latest` by name, CRC32C checked when the server returns one. No
 *   version (a half-made secret), or a latest version disabled or destroyed: not found.
 * - update 1: AddSecretVersion, which answers NOT_FOUND for a missing secret (update never
 *   creates); plus 1 to prune (`pruneAction` not "none"): the answer names the new version N, so
 *   version N-keepVersions is destroyed (or disabled) without listing the versions.
 * - delete 1: DeleteSecret by name: of racing deletes one wins, the others get NOT_FOUND.
 * - list: ListSecrets filtered on the name prefix `<prefix>-<owner>-`, one request per page.
 *
 * `verifyOwnership: true` sends GetSecret first and checks the labels, so a secret at one of the
 * owner's names without them is not found and never touched: get 2, update 2 (+1 to prune),
 * delete 2 (DeleteSecret with the etag GetSecret returned), list filtered on the labels too.
 *
 * Half-made secrets (CreateSecret done, AddSecretVersion not yet, or never: the store is under way
 * or its process died). A store linearizes at its AddSecretVersion, or earlier, at the first
 * version anyone adds to its secret; get finds no value in a secret without a version. So:
 * - An update that makes version 1 wrote into a half-made secret: it counts as done after the
 *   store (a get may already have read it). It adds its payload once more (1 request), so that its
 *   value ends up newer than the store's version, whenever that lands. A dead store's leftover is
 *   thereby completed, as if that store had finished just before the update.
 * - A store whose AddSecretVersion makes a version N > 1 had updates (or a stray store, below)
 *   write first. GetSecret (1 request) tells whether the secret is still the one it created
 *   (its createTime). If it is and N = 2, the store's value stands: version 1 is an update that
 *   will add itself once more, or a version left by a store from before a delete. Otherwise the
 *   versions before N come after the store: it copies version N-1 on top of its own (AccessSecretVersion
 *   and AddSecretVersion, again while other versions land between), then prunes its own.
 * - A store whose AddSecretVersion answers NOT_FOUND had its secret deleted by a concurrent delete
 *   (or by a store replacing a leftover): it succeeds, ordered just before that delete. A delete of
 *   a half-made secret succeeds: the store counts as done, then deleted.
 * - A store that finds the name taken checks for a version (GetSecret, GetSecretVersion) and waits
 *   up to `halfCreatedGraceMs` for one; a secret still without a version then is a dead store's
 *   leftover, deleted and created anew.
 * - list cannot tell a half-made secret from a stored one without a request per secret: a dead
 *   store's leftover is listed while get finds no value, until a store, update or delete of its id.
 *   A store of this adapter that failed after its CreateSecret may have run remembers the id, and
 *   list checks those ids alone (GetSecretVersion each), so within one process list and get agree.
 *
 * Every operation is bounded by `operationTimeoutMs` (each page for list), each request by
 * `requestTimeoutMs` (the gax call's deadline, the SDK's own retries off: the adapter retries).
 */
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import { type protos, SecretManagerServiceClient } from "@google-cloud/secret-manager";
import type * as Gax from "google-gax";
import type { AdapterCapabilities, AdapterContext, SecretsAdapter, SecretValues } from "../../src/contract.js";
import { type Deadline, DeadlineBoundAdapter } from "../../src/deadline.js";
import {
  isSecretStoreError,
  PermissionDeniedError,
  ProviderUnavailableError,
  SecretAlreadyExistsError,
  SecretIntegrityError,
  SecretNotFoundError,
  SecretStoreError,
} from "../../src/errors.js";
import { retryWithBackoff } from "../../src/retry.js";
import { parseStoredValues, secretNamePattern } from "../../src/validation.js";
import { crc32c } from "./crc32c.js";
import { describeCode, grpcCode, isRetryable, mapGcpError, PROVIDER, Status } from "./errors.js";
import type { ResolvedGcpOptions } from "./options.js";

export type { GcpOptions } from "./options.js";

type Secret = protos.google.cloud.secretmanager.v1.ISecret;
type SecretPayload = protos.google.cloud.secretmanager.v1.ISecretPayload;
type Timestamp = protos.google.protobuf.ITimestamp;

export const MANAGED_BY_LABEL = "managed-by";
export const MANAGED_BY_VALUE = "omnisecret";
export const OWNER_LABEL = "omnisecret-owner";
export const ID_LABEL = "omnisecret-id";

/** Secret Manager's limit on a version's payload. */
export const GCP_MAX_VALUE_BYTES = 65_536;

/** Creates tried for one store: the first, and one after each removal of a half-made leftover. */
const CREATE_ATTEMPTS = 3;
/** Deletes tried (strict mode) while the secret's etag keeps changing under them. */
const DELETE_ATTEMPTS = 3;
/** Copies a store whose version landed after others makes at most, while more versions land between. */
const SETTLE_COPIES = 5;
/** Ids whose store failed after a CreateSecret that may have run, remembered for list at most. */
const MAX_SUSPECTS = 10_000;

/**
 * How a request is retried: `idempotent` on RESOURCE_EXHAUSTED, UNAVAILABLE and
 * DEADLINE_EXCEEDED; `write` only on RESOURCE_EXHAUSTED (the request was refused, not run).
 */
type RetryMode = "idempotent" | "write";

/** Codes after which a request certainly did not run. */
const REFUSED = new Set<number>([
  Status.INVALID_ARGUMENT,
  Status.NOT_FOUND,
  Status.ALREADY_EXISTS,
  Status.PERMISSION_DENIED,
  Status.RESOURCE_EXHAUSTED,
  Status.FAILED_PRECONDITION,
  Status.UNIMPLEMENTED,
  Status.UNAUTHENTICATED,
]);

/** Whether a failed request may have run on the server: an answer lost, a deadline passed. */
function mightHaveRun(error: unknown): boolean {
  if (isSecretStoreError(error)) return error.code === "E_PROVIDER_UNAVAILABLE";
  return !REFUSED.has(grpcCode(error) ?? -1);
}

/** A payload's `dataCrc32c` as a number: the SDK returns int64 fields as strings, a custom client may use numbers or Longs. */
function checksumOf(value: unknown): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = String(value);
  return /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
}

/** The number N of a version name `.../versions/N`, if the answer carried one. */
function versionNumber(version: { name?: string | null } | undefined): number | undefined {
  const number = Number(/\/versions\/(\d+)$/.exec(version?.name ?? "")?.[1]);
  return Number.isSafeInteger(number) && number > 0 ? number : undefined;
}

/** A timestamp as text (seconds may be a string, a number or a Long), or undefined without one. */
function timeKey(time: Timestamp | null | undefined): string | undefined {
  if (!time || time.seconds === null || time.seconds === undefined) return undefined;
  return `${String(time.seconds)}.${time.nanos ?? 0}`;
}

/** Channel credentials without TLS, from the copy of grpc-js the SDK uses (grpc-js refuses another copy's). */
function insecureChannelCredentials(): unknown {
  const sdkEntry = createRequire(import.meta.url).resolve("@google-cloud/secret-manager");
  const gax = createRequire(sdkEntry)("google-gax") as typeof Gax;
  return gax.grpc.credentials.createInsecure();
}

export class GcpSecretsAdapter extends DeadlineBoundAdapter {
  readonly provider = PROVIDER;
  readonly capabilities: AdapterCapabilities = { maxValueBytes: GCP_MAX_VALUE_BYTES, list: true };
  #client: SecretManagerServiceClient;
  #ready: Promise<void> | undefined;
  /** The setup has succeeded: requests go straight to the client, without waiting on `#ready` again. */
  #initialized = false;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #options: ResolvedGcpOptions;
  readonly #namePattern: RegExp;
  /**
   * Ids whose store failed after a CreateSecret that may have run, and whose secret may therefore
   * be half-made: list checks these for a version before it yields them.
   */
  readonly #suspects = new Set<string>();

  constructor(options: ResolvedGcpOptions, context: AdapterContext) {
    super();
    this.#options = options;
    this.#prefix = context.prefix;
    this.#ownsClient = options.client === undefined;
    // The options type describes an injected client structurally, so it compiles without the SDK.
    this.#client = (options.client as SecretManagerServiceClient | undefined) ?? this.#newClient();
    this.#namePattern = secretNamePattern(`${this.#parent}/secrets/${this.#ownerStart}`);
  }

  get #parent(): string {
    return `projects/${this.#options.projectId}`;
  }

  /** `<prefix>-<owner>-`: the start of the secret id of every secret of this owner. */
  get #ownerStart(): string {
    return `${this.#prefix}-${this.#options.owner}-`;
  }

  /** The secret id inside the project, `<prefix>-<owner>-<uuid>`. */
  secretIdOf(id: string): string {
    return `${this.#ownerStart}${id}`;
  }

  /** The full resource name of a secret. */
  nameOf(id: string): string {
    return `${this.#parent}/secrets/${this.secretIdOf(id)}`;
  }

  protected get limits() {
    return this.#options;
  }

  protected override async storeValues(
    id: string,
    _values: SecretValues,
    serialized: string,
    deadline: Deadline,
  ): Promise<void> {
    const name = this.nameOf(id);
    let created: Secret;
    try {
      created = await this.#create(id, deadline);
    } catch (error) {
      // A create that may have run leaves a secret without a version: list must check it.
      if (mightHaveRun(error)) this.#suspect(id);
      throw this.#map(error, id);
    }
    let version: number | undefined;
    try {
      version = versionNumber((await this.#rpc(deadline, this.#addVersion(name, serialized), "idempotent"))[0]);
    } catch (error) {
      // Deleted by a concurrent delete (or a store replacing a leftover) before the version: the
      // store counts as done just before that delete.
      if (grpcCode(error) === Status.NOT_FOUND) return this.#resolved(id);
      // Undo the CreateSecret, so the id stays free; if this fails too, list checks the id, and
      // the next store of the id removes the leftover after halfCreatedGraceMs.
      await this.#rpc(deadline, (options) => this.#client.deleteSecret({ name }, options), "write").then(
        () => this.#resolved(id),
        () => this.#suspect(id),
      );
      throw this.#map(error, id);
    }
    this.#resolved(id);
    if (version !== undefined && version > 1) await this.#settleLateVersion(id, created, version, deadline);
  }

  protected override async readValues(id: string, deadline: Deadline): Promise<SecretValues> {
    const name = this.#options.verifyOwnership ? (await this.#getOwned(id, deadline)).name : this.nameOf(id);
    const [response] = await this.#send(
      deadline,
      id,
      (options) => this.#client.accessSecretVersion({ name: `${name}/versions/latest` }, options),
      "idempotent",
    );
    return this.#decode(id, response.payload);
  }

  protected override async updateValues(
    id: string,
    _values: SecretValues,
    serialized: string,
    deadline: Deadline,
  ): Promise<void> {
    const name = this.#options.verifyOwnership ? (await this.#getOwned(id, deadline)).name : this.nameOf(id);
    // NOT_FOUND for a missing secret: update never creates.
    const add = this.#addVersion(name, serialized);
    let [added] = await this.#send(deadline, id, add, "idempotent");
    let version = versionNumber(added);
    if (version === 1) {
      // The secret had no version: a store is between its two requests (or died there). This
      // update counts as done after that store, so its value must end up newer than the store's
      // version, which may land any moment now: it is added once more.
      try {
        [added] = await this.#rpc(deadline, add, "idempotent");
      } catch (error) {
        // Deleted since: done, then deleted.
        if (grpcCode(error) === Status.NOT_FOUND) return this.#resolved(id);
        throw this.#map(error, id);
      }
      version = versionNumber(added);
      if (version !== undefined && version - this.#options.keepVersions !== 1) {
        await this.#prune(id, name, 1, false, deadline);
      }
    }
    this.#resolved(id);
    if (version !== undefined) await this.#prune(id, name, version - this.#options.keepVersions, false, deadline);
  }

  protected override async deleteValues(id: string, deadline: Deadline): Promise<void> {
    if (!this.#options.verifyOwnership) {
      await this.#send(
        deadline,
        id,
        (options) => this.#client.deleteSecret({ name: this.nameOf(id) }, options),
        "write",
      );
      this.#resolved(id);
      return;
    }
    for (let attempt = 1; ; attempt += 1) {
      const secret = await this.#getOwned(id, deadline);
      const etag = secret.etag || undefined;
      try {
        await this.#rpc(
          deadline,
          (options) => this.#client.deleteSecret({ name: secret.name, ...(etag ? { etag } : {}) }, options),
          "write",
        );
        this.#resolved(id);
        return;
      } catch (error) {
        const code = grpcCode(error);
        const etagMismatch = etag !== undefined && (code === Status.FAILED_PRECONDITION || code === Status.ABORTED);
        if (!etagMismatch) throw this.#map(error, id);
        // The secret changed (or was replaced) since GetSecret: check its labels again.
        if (attempt >= DELETE_ATTEMPTS) {
          throw new ProviderUnavailableError(id, {
            provider: PROVIDER,
            message: `secret ${id} kept changing while it was being deleted; try again`,
            cause: error,
          });
        }
      }
    }
  }

  protected override async *listIds(stepDeadline: () => Deadline): AsyncIterable<string> {
    const strict = this.#options.verifyOwnership;
    // `name:` matches a substring of the name; the name (and in strict mode the labels) are
    // checked exactly below, as servers may ignore filters (the emulator does).
    const labels = `labels.${MANAGED_BY_LABEL}="${MANAGED_BY_VALUE}" AND labels.${OWNER_LABEL}="${this.#options.owner}"`;
    const filter = `name:"${this.#ownerStart}"${strict ? ` AND ${labels}` : ""}`;
    const seen = new Set<string>();
    let pageToken: string | undefined;
    do {
      const token = pageToken;
      const [secrets, , response] = await this.#send(
        stepDeadline(),
        undefined,
        (options) =>
          this.#client.listSecrets(
            {
              parent: this.#parent,
              filter,
              pageSize: this.#options.listPageSize,
              ...(token ? { pageToken: token } : {}),
            },
            { ...options, autoPaginate: false },
          ),
        "idempotent",
      );
      for (const secret of secrets ?? []) {
        const id = this.#namePattern.exec(secret.name ?? "")?.[1];
        if (!id || seen.has(id) || (strict && !this.#isOwned(secret, id))) continue;
        if (this.#suspects.has(id) && !(await this.#hasVersion(id, stepDeadline()))) continue;
        seen.add(id);
        yield id;
      }
      pageToken = response?.nextPageToken || undefined;
    } while (pageToken);
  }

  async close(): Promise<void> {
    if (this.#ownsClient) await this.#client.close();
  }

  #newClient(): SecretManagerServiceClient {
    const { projectId, credentials, apiEndpoint, port, plaintext } = this.#options;
    type ClientOptions = NonNullable<ConstructorParameters<typeof SecretManagerServiceClient>[0]>;
    const clientOptions: ClientOptions = {
      projectId,
      // A copy: the auth library may keep and change the object it is given.
      ...(credentials ? { credentials: { ...credentials } as ClientOptions["credentials"] } : {}),
      ...(apiEndpoint ? { apiEndpoint: bracketIpv6(apiEndpoint) } : {}),
      ...(port ? { port } : {}),
      // Emulators: no TLS and no credentials. The universe domain is given so that the auth
      // library does not go looking for credentials (and a metadata server) to learn it.
      ...(plaintext
        ? { sslCreds: insecureChannelCredentials() as ClientOptions["sslCreds"], universeDomain: "googleapis.com" }
        : {}),
    };
    return new SecretManagerServiceClient(clientOptions);
  }

  /**
   * Sets up the SDK's connection (credentials, channel) once, before the first request. Done here
   * because the SDK's methods leave a failed setup (no credentials) as an unhandled rejection;
   * after one, a client of ours is replaced, so the next request tries again.
   */
  #initialize(): Promise<void> {
    const client = this.#client as { initialize?: () => Promise<unknown> };
    if (typeof client.initialize !== "function") {
      this.#initialized = true;
      return Promise.resolve();
    }
    this.#ready ??= client.initialize().then(
      () => {
        this.#initialized = true;
      },
      (error: unknown) => {
        this.#ready = undefined;
        if (this.#ownsClient) this.#client = this.#newClient();
        throw error;
      },
    );
    return this.#ready;
  }

  /**
   * Runs one request, retried as `retry` says; errors are the SDK's. Each attempt gets the gax
   * call options `timeout` (`requestTimeoutMs`, cut to what the operation has left) and no retries
   * of the SDK's own: its retry of DEADLINE_EXCEEDED on top of a 60 s deadline made a get against a
   * silent server last minutes.
   */
  async #rpc<T>(deadline: Deadline, request: (options: Gax.CallOptions) => Promise<T>, retry: RetryMode): Promise<T> {
    if (!this.#initialized) await this.#initialize();
    const attempt = () => request({ timeout: deadline.requestTimeoutMs(this.#options.requestTimeoutMs), retry: null });
    return retryWithBackoff(attempt, (error) => isRetryable(error, retry === "idempotent"), {
      attempts: this.#options.maxAttempts,
      initialDelayMs: 200,
      maxDelayMs: 2_000,
      // Read only for a retry: the deadline makes its AbortController on demand.
      signal: () => deadline.signal,
    });
  }

  /** Runs one request; errors are mapped to omnisecret's. */
  async #send<T>(
    deadline: Deadline,
    id: string | undefined,
    request: (options: Gax.CallOptions) => Promise<T>,
    retry: RetryMode,
  ): Promise<T> {
    try {
      return await this.#rpc(deadline, request, retry);
    } catch (error) {
      throw this.#map(error, id);
    }
  }

  /**
   * The AddSecretVersion request, with the payload's CRC32C. Sent as `idempotent`: a repeated add
   * only makes one more version of the same value, which the version number shows.
   */
  #addVersion(name: string, serialized: string | Buffer) {
    const data = typeof serialized === "string" ? Buffer.from(serialized, "utf8") : serialized;
    return (options: Gax.CallOptions) =>
      this.#client.addSecretVersion({ parent: name, payload: { data, dataCrc32c: crc32c(data) } }, options);
  }

  #suspect(id: string): void {
    if (this.#suspects.size >= MAX_SUSPECTS) {
      const oldest = this.#suspects.values().next().value;
      if (oldest !== undefined) this.#suspects.delete(oldest);
    }
    this.#suspects.add(id);
  }

  /** The id's secret was stored, updated or deleted since: no longer half-made by a store of ours. */
  #resolved(id: string): void {
    this.#suspects.delete(id);
  }

  /** Whether a suspect's secret has a version (GetSecretVersion of `latest`); forgets the id if so. */
  async #hasVersion(id: string, deadline: Deadline): Promise<boolean> {
    try {
      await this.#rpc(
        deadline,
        (options) => this.#client.getSecretVersion({ name: `${this.nameOf(id)}/versions/latest` }, options),
        "idempotent",
      );
    } catch (error) {
      const code = grpcCode(error);
      if (code === Status.NOT_FOUND || code === Status.FAILED_PRECONDITION) return false;
      throw this.#map(error, undefined);
    }
    this.#resolved(id);
    return true;
  }

  #labelsFor(id: string): Record<string, string> {
    return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [OWNER_LABEL]: this.#options.owner, [ID_LABEL]: id };
  }

  #isOwned(secret: Secret, id: string): boolean {
    const labels = secret.labels ?? {};
    return (
      labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE &&
      labels[OWNER_LABEL] === this.#options.owner &&
      labels[ID_LABEL] === id
    );
  }

  /** Strict mode: the secret, if it exists and carries this store's labels. */
  async #getOwned(id: string, deadline: Deadline): Promise<Secret & { name: string }> {
    const [secret] = await this.#send(
      deadline,
      id,
      (options) => this.#client.getSecret({ name: this.nameOf(id) }, options),
      "idempotent",
    );
    if (!this.#isOwned(secret, id)) throw new SecretNotFoundError(id, { provider: PROVIDER });
    return { ...secret, name: secret.name || this.nameOf(id) };
  }

  /**
   * A store's version landed as version `version` > 1: others wrote into its secret first (see the
   * opening comment). Its value stands if the secret is the one it created and only version 1
   * came before; otherwise those versions are ordered after the store, and the newest of them is
   * copied on top of the store's own. Best effort beyond that: the store has succeeded either way.
   */
  async #settleLateVersion(id: string, created: Secret, version: number, deadline: Deadline): Promise<void> {
    const name = this.nameOf(id);
    const createdAt = timeKey(created.createTime);
    let current: Secret;
    try {
      [current] = await this.#rpc(deadline, (options) => this.#client.getSecret({ name }, options), "idempotent");
    } catch (error) {
      // Deleted since the version landed: the store was done, then deleted.
      if (grpcCode(error) === Status.NOT_FOUND) return;
      throw this.#map(error, id);
    }
    const replaced = createdAt !== undefined && timeKey(current.createTime) !== createdAt;
    if (!replaced && version === 2) return;
    const mine = [version];
    let top = version;
    for (let copy = 1; copy <= SETTLE_COPIES; copy += 1) {
      let payload: SecretPayload | null | undefined;
      try {
        [{ payload }] = await this.#rpc(
          deadline,
          (options) => this.#client.accessSecretVersion({ name: `${name}/versions/${top - 1}` }, options),
          "idempotent",
        );
      } catch (error) {
        const code = grpcCode(error);
        // Pruned: a newer version exists, so the store's is not the latest any more. Or deleted.
        if (code === Status.FAILED_PRECONDITION || code === Status.NOT_FOUND) break;
        throw this.#map(error, id);
      }
      const data = payload?.data;
      if (!(data instanceof Uint8Array)) break;
      let landed: number | undefined;
      try {
        landed = versionNumber((await this.#rpc(deadline, this.#addVersion(name, Buffer.from(data)), "idempotent"))[0]);
      } catch (error) {
        if (grpcCode(error) === Status.NOT_FOUND) return;
        throw this.#map(error, id);
      }
      if (landed === undefined) break;
      mine.push(landed);
      // Nothing landed between the store's last version and the copy: the copy is the latest, and
      // holds the value of the version just before the store's.
      if (landed === top + 1) {
        mine.pop();
        // The store's own versions, all older than the copy now; best effort.
        for (const own of mine) await this.#prune(id, name, own, true, deadline);
        return;
      }
      top = landed;
    }
  }

  /** CreateSecret; when the name is taken by a half-made leftover, removes it and tries again. */
  async #create(id: string, deadline: Deadline): Promise<Secret> {
    const replication =
      this.#options.replication === "automatic"
        ? { automatic: {} }
        : {
            userManaged: {
              replicas: this.#options.replication.userManaged.locations.map((location) => ({ location })),
            },
          };
    for (let attempt = 1; ; attempt += 1) {
      try {
        const [secret] = await this.#rpc(
          deadline,
          (options) =>
            this.#client.createSecret(
              {
                parent: this.#parent,
                secretId: this.secretIdOf(id),
                secret: { labels: this.#labelsFor(id), replication },
              },
              options,
            ),
          // Not retried on UNAVAILABLE: a create that ran would then look like someone else's.
          "write",
        );
        return secret;
      } catch (error) {
        if (grpcCode(error) !== Status.ALREADY_EXISTS || attempt >= CREATE_ATTEMPTS) throw error;
        if (!(await this.#freeHalfCreated(id, deadline))) {
          throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: error });
        }
      }
    }
  }

  /**
   * After CreateSecret found the name taken: true if it is free again (the secret went away, or
   * was a half-made leftover, which is deleted here), false if the id counts as taken: the secret
   * has a version, or (strict mode) is not ours, and is never touched then.
   *
   * A secret without a version is either another store between its two requests, or a leftover.
   * It is watched until `halfCreatedGraceMs` has passed since this store first saw it; if it gets
   * a version meanwhile, the other store won.
   */
  async #freeHalfCreated(id: string, deadline: Deadline): Promise<boolean> {
    const name = this.nameOf(id);
    const graceEndsAt = Date.now() + this.#options.halfCreatedGraceMs;
    let delayMs = 50;
    for (;;) {
      let secret: Secret;
      try {
        [secret] = await this.#rpc(deadline, (options) => this.#client.getSecret({ name }, options), "idempotent");
      } catch (error) {
        if (grpcCode(error) === Status.NOT_FOUND) return true;
        throw this.#map(error, id);
      }
      if (this.#options.verifyOwnership && !this.#isOwned(secret, id)) return false;
      try {
        await this.#rpc(
          deadline,
          (options) => this.#client.getSecretVersion({ name: `${name}/versions/latest` }, options),
          "idempotent",
        );
        return false;
      } catch (error) {
        const code = grpcCode(error);
        // FAILED_PRECONDITION: a version exists (disabled or destroyed), so the secret is not half-made.
        if (code === Status.FAILED_PRECONDITION) return false;
        if (code !== Status.NOT_FOUND) throw this.#map(error, id);
      }
      const remainingMs = graceEndsAt - Date.now();
      if (remainingMs <= 0) {
        try {
          await this.#rpc(
            deadline,
            (options) => this.#client.deleteSecret({ name, ...(secret.etag ? { etag: secret.etag } : {}) }, options),
            "write",
          );
        } catch (error) {
          const code = grpcCode(error);
          if (code === Status.NOT_FOUND) return true;
          // The etag moved on: the secret changed after GetSecret, so it is not a leftover.
          if (code === Status.FAILED_PRECONDITION || code === Status.ABORTED) return false;
          throw this.#map(error, id);
        }
        return true;
      }
      await sleep(Math.min(delayMs, remainingMs));
      delayMs = Math.min(delayMs * 2, 1_000);
    }
  }

  #decode(id: string, payload: SecretPayload | null | undefined): SecretValues {
    const raw = payload?.data;
    const data = typeof raw === "string" ? Buffer.from(raw, "base64") : raw;
    if (!(data instanceof Uint8Array)) {
      throw new SecretIntegrityError(id, "the secret version has no payload", { provider: PROVIDER });
    }
    // A server that returns no checksum (emulators) is taken at its word.
    const expected = checksumOf(payload?.dataCrc32c);
    if (expected !== undefined && expected !== crc32c(data)) {
      throw new SecretIntegrityError(id, "the payload does not match its CRC32C checksum", { provider: PROVIDER });
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(data);
    } catch {
      throw new SecretIntegrityError(id, "the payload is not UTF-8 text", { provider: PROVIDER });
    }
    return parseStoredValues(text, id, PROVIDER);
  }

  /**
   * Destroys (or disables) version `version` of the secret, unless `pruneAction` is "none" or
   * there is no such version number. One already destroyed or disabled (a concurrent update
   * pruned it first), or gone with its secret, is fine; any other failure is reported, saying that
   * the update itself was made, or ignored (`bestEffort`).
   */
  async #prune(id: string, name: string, version: number, bestEffort: boolean, deadline: Deadline): Promise<void> {
    const { pruneAction } = this.#options;
    if (pruneAction === "none" || version < 1) return;
    const versionName = `${name}/versions/${version}`;
    try {
      await this.#rpc(
        deadline,
        (options) =>
          pruneAction === "destroy"
            ? this.#client.destroySecretVersion({ name: versionName }, options)
            : this.#client.disableSecretVersion({ name: versionName }, options),
        "write",
      );
    } catch (error) {
      const code = grpcCode(error);
      if (code === Status.NOT_FOUND || code === Status.FAILED_PRECONDITION || bestEffort) return;
      throw this.#pruneFailed(error, id);
    }
  }

  #pruneFailed(error: unknown, id: string): SecretStoreError {
    const action = this.#options.pruneAction === "destroy" ? "destroyed" : "disabled";
    const hint =
      grpcCode(error) === Status.UNIMPLEMENTED
        ? '; this server does not manage versions: set pruneAction to "none" for it'
        : "";
    const message = `secret ${id} was updated, but its older versions could not be ${action} (${describeCode(error)})${hint}`;
    const options = { provider: PROVIDER, cause: error, message };
    const mapped = this.#map(error, id);
    if (mapped instanceof PermissionDeniedError) return new PermissionDeniedError(id, options);
    if (mapped instanceof ProviderUnavailableError) return new ProviderUnavailableError(id, options);
    return new SecretStoreError("E_UNKNOWN", message, { ...options, secretId: id });
  }

  #map(error: unknown, id: string | undefined): unknown {
    if (isSecretStoreError(error)) return error;
    return mapGcpError(error, id) ?? error;
  }
}

/** `::1` becomes `[::1]`: the SDK appends `:<port>` to the host. */
function bracketIpv6(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

export function createGcpAdapter(options: ResolvedGcpOptions, context: AdapterContext): SecretsAdapter {
  return new GcpSecretsAdapter(options, context);
}
