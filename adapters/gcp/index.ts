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
 * - getSecretRevision (what a watch polls) 1: GetSecretVersion of `latest`, its metadata only.
 *
 * Versions: an update adds version N and the `keepVersions` newest stay enabled (readable through
 * omnisecret); older ones are pruned as above. A version token is `<incarnation>.<N>`, the
 * incarnation being the secret's createTime, so after a delete and a new store (whose versions
 * number from 1 again) an old token is not found. AccessSecretVersion's answer says nothing of
 * the secret's createTime, so every versioned read ends with a GetSecret that checks it:
 * - get of a token 2: AccessSecretVersion of `versions/N`, then GetSecret (its createTime is the
 *   token's incarnation, or the version is gone).
 * - get of "previous" 3: ListSecretVersions of one page of `keepVersions` (newest first), then
 *   AccessSecretVersion of the newest enabled version below the latest within them, then
 *   GetSecret (that version's createTime is not before the secret's). None with keepVersions 1.
 * - listSecretVersions: ListSecretVersions (one request per page), then GetSecret.
 * In strict mode a versioned get sends GetSecret first too, so no foreign value is ever accessed.
 *
 * `verifyOwnership: true` sends GetSecret first and checks the labels, so a secret at one of the
 * owner's names without them is not found and never touched: get 2, update 2 (+1 to prune),
 * delete 2 (DeleteSecret with the etag GetSecret returned), list filtered on the labels too.
 *
 * Half-made secrets (CreateSecret done, AddSecretVersion not yet, or never): what store, update,
 * delete and list do about them, and the requests that costs, is in ./half-made.ts.
 *
 * Every operation is bounded by `operationTimeoutMs` (each page for list), each request by
 * `requestTimeoutMs` (the gax call's deadline, the SDK's own retries off: the adapter retries).
 */
import { createRequire } from "node:module";
import { type protos, SecretManagerServiceClient } from "@google-cloud/secret-manager";
import type * as Gax from "google-gax";
import {
  type AdapterCapabilities,
  type AdapterContext,
  type Deadline,
  DeadlineBoundAdapter,
  InvalidVersionError,
  incarnationOf,
  isSecretStoreError,
  MANAGED_BY_VALUE,
  OperationNotSupportedError,
  Ownership,
  PermissionDeniedError,
  ProviderUnavailableError,
  parseStoredValues,
  parseVersionToken,
  RequestRunner,
  SecretAlreadyExistsError,
  SecretIntegrityError,
  SecretNotFoundError,
  SecretStoreError,
  type SecretsAdapter,
  type SecretValues,
  type SecretVersion,
  versionToken,
} from "../../src/kit/index.js";
import { crc32c } from "./crc32c.js";
import { describeCode, grpcCode, isRetryable, mapGcpError, PROVIDER, Status } from "./errors.js";
import {
  freeHalfCreated,
  hasVersion,
  type SecretRequests,
  SuspectIds,
  settleLateVersion,
  updateOverHalfMade,
} from "./half-made.js";
import type { ResolvedGcpOptions } from "./options.js";

export type { GcpOptions } from "./options.js";

type Secret = protos.google.cloud.secretmanager.v1.ISecret;
type SecretPayload = protos.google.cloud.secretmanager.v1.ISecretPayload;
type Version = protos.google.cloud.secretmanager.v1.ISecretVersion;
type Timestamp = protos.google.protobuf.ITimestamp;

export { MANAGED_BY_VALUE };
export const MANAGED_BY_LABEL = "managed-by";
export const OWNER_LABEL = "omnisecret-owner";
export const ID_LABEL = "omnisecret-id";

/** A secret's id in the project, `<prefix>-<owner>-<uuid>`, and its labels. */
const NAMING = { separator: "-", marks: { managedBy: MANAGED_BY_LABEL, owner: OWNER_LABEL, id: ID_LABEL } } as const;

/** Secret Manager's limit on a version's payload. */
export const GCP_MAX_VALUE_BYTES = 65_536;

/** Creates tried for one store: the first, and one after each removal of a half-made leftover. */
const CREATE_ATTEMPTS = 3;
/** Deletes tried (strict mode) while the secret's etag keeps changing under them. */
const DELETE_ATTEMPTS = 3;
/** Versioned reads and version lists tried while the secret keeps being replaced under them. */
const REPLACED_ATTEMPTS = 3;

/** The native part of a version token: a version number, as Secret Manager numbers them from 1. */
const VERSION_NUMBER = /^[1-9]\d{0,14}$/;

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

/** A timestamp in milliseconds (its seconds may be a string, a number or a Long), or undefined without one. */
function millisOf(time: Timestamp | null | undefined): number | undefined {
  if (!time || time.seconds === null || time.seconds === undefined) return undefined;
  const seconds = Number(String(time.seconds));
  return Number.isFinite(seconds) ? seconds * 1000 + Math.floor((time.nanos ?? 0) / 1e6) : undefined;
}

/** Channel credentials without TLS, from the copy of grpc-js the SDK uses (grpc-js refuses another copy's). */
function insecureChannelCredentials(): unknown {
  const sdkEntry = createRequire(import.meta.url).resolve("@google-cloud/secret-manager");
  const gax = createRequire(sdkEntry)("google-gax") as typeof Gax;
  return gax.grpc.credentials.createInsecure();
}

export class GcpSecretsAdapter extends DeadlineBoundAdapter {
  readonly provider = PROVIDER;
  readonly capabilities: AdapterCapabilities = {
    maxValueBytes: GCP_MAX_VALUE_BYTES,
    list: true,
    versions: true,
    revision: true,
  };
  #client: SecretManagerServiceClient;
  #ready: Promise<void> | undefined;
  /** The setup has succeeded: requests go straight to the client, without waiting on `#ready` again. */
  #initialized = false;
  readonly #ownsClient: boolean;
  readonly #options: ResolvedGcpOptions;
  readonly #ownership: Ownership;
  /** Ids whose secret a failed store of ours may have left half-made (see ./half-made.ts). */
  readonly #suspects = new SuspectIds();
  readonly #requests: Record<RetryMode, RequestRunner>;

  constructor(options: ResolvedGcpOptions, context: AdapterContext) {
    super(options);
    this.#options = options;
    this.#ownership = new Ownership({ prefix: context.prefix, owner: options.owner, ...NAMING });
    const requests = (idempotent: boolean) =>
      new RequestRunner({
        attempts: options.maxAttempts,
        isRetryable: (error) => isRetryable(error, idempotent),
        mapError: (error, id) => this.#map(error, id),
        // The client's setup, before its first request (and again after a failed one).
        prepare: () => (this.#initialized ? undefined : this.#initialize()),
      });
    this.#requests = { idempotent: requests(true), write: requests(false) };
    this.#ownsClient = options.client === undefined;
    // The options type describes an injected client structurally, so it compiles without the SDK.
    this.#client = (options.client as SecretManagerServiceClient | undefined) ?? this.#newClient();
  }

  get #parent(): string {
    return `projects/${this.#options.projectId}`;
  }

  /** The secret id inside the project, `<prefix>-<owner>-<uuid>`. */
  secretIdOf(id: string): string {
    return this.#ownership.nameOf(id);
  }

  /** The full resource name of a secret. */
  nameOf(id: string): string {
    return `${this.#parent}/secrets/${this.secretIdOf(id)}`;
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
      if (mightHaveRun(error)) this.#suspects.add(id);
      throw this.#map(error, id);
    }
    let version: number | undefined;
    try {
      version = versionNumber((await this.#rpc(deadline, this.#addVersion(name, serialized), "idempotent"))[0]);
    } catch (error) {
      // Deleted by a concurrent delete (or a store replacing a leftover) before the version: the
      // store counts as done just before that delete.
      if (grpcCode(error) === Status.NOT_FOUND) return this.#suspects.resolved(id);
      // Undo the CreateSecret, so the id stays free; if this fails too, list checks the id, and
      // the next store of the id removes the leftover after halfCreatedGraceMs.
      await this.#rpc(deadline, (options) => this.#client.deleteSecret({ name }, options), "write").then(
        () => this.#suspects.resolved(id),
        () => this.#suspects.add(id),
      );
      throw this.#map(error, id);
    }
    this.#suspects.resolved(id);
    if (version !== undefined && version > 1) {
      await settleLateVersion(this.#requestsFor(id, name, deadline), created, version);
    }
  }

  protected override async readValues(id: string, deadline: Deadline, version?: string): Promise<SecretValues> {
    if (version !== undefined) return this.#readVersion(id, version, deadline);
    const name = this.#options.verifyOwnership ? (await this.#getOwned(id, deadline)).name : this.nameOf(id);
    const [response] = await this.#send(
      deadline,
      id,
      (options) => this.#client.accessSecretVersion({ name: `${name}/versions/latest` }, options),
      "idempotent",
    );
    return this.#decode(id, response.payload);
  }

  isVersionToken(token: string): boolean {
    return parseVersionToken(token, VERSION_NUMBER) !== undefined;
  }

  /**
   * GetSecretVersion of `latest`: the version's metadata, never its payload. Its name (the number
   * `latest` resolves to) moves on every AddSecretVersion; its createTime, to the nanosecond,
   * tells a secret stored again (numbered from 1 again). Not the secret's etag: adding a version
   * does not change the secret, and the emulator answers no etag. A latest version not enabled
   * (or none) is what get answers not found for.
   */
  protected override async readRevision(id: string, deadline: Deadline): Promise<string> {
    const name = this.#options.verifyOwnership ? (await this.#getOwned(id, deadline)).name : this.nameOf(id);
    let version: protos.google.cloud.secretmanager.v1.ISecretVersion;
    try {
      [version] = await this.#send(
        deadline,
        id,
        (options) => this.#client.getSecretVersion({ name: `${name}/versions/latest` }, options),
        "idempotent",
      );
    } catch (error) {
      const code = grpcCode(error);
      if (code === Status.NOT_FOUND || code === Status.FAILED_PRECONDITION)
        throw this.#notFound(id, `secret ${id} not found`, error);
      throw this.#map(error, id);
    }
    if (String(version.state) !== "ENABLED" || !version.name) throw this.#notFound(id, `secret ${id} not found`);
    return `${version.name}@${version.createTime?.seconds ?? ""}.${version.createTime?.nanos ?? ""}`;
  }

  /**
   * The versions, newest first: ListSecretVersions (one request per page), then GetSecret, whose
   * createTime is the incarnation in the tokens. A version created before that createTime belongs
   * to a secret deleted since (the list ran before a delete and a new store): listed again.
   */
  protected override async listVersions(id: string, deadline: Deadline): Promise<readonly SecretVersion[]> {
    for (let attempt = 1; ; attempt += 1) {
      const versions = await this.#listVersions(id, deadline);
      const { incarnation, createdAt } = await this.#incarnation(id, deadline);
      const replaced = versions.some((version) => (millisOf(version.createTime) ?? createdAt) < createdAt);
      if (replaced) {
        if (attempt < REPLACED_ATTEMPTS) continue;
        throw this.#keptReplacing(id);
      }
      // A secret without a version is half-made: get finds no value in it, so neither does this.
      if (versions.length === 0) throw new SecretNotFoundError(id, { provider: PROVIDER });
      const numbered = versions
        .map((version) => ({ version, number: versionNumber(version) ?? 0 }))
        .filter(({ number }) => number > 0)
        .sort((a, b) => b.number - a.number);
      const latest = numbered[0]?.number ?? 0;
      return numbered.map(({ version, number }) => {
        const enabled = version.state === "ENABLED";
        return {
          token: versionToken(incarnation, number),
          createdAt: new Date(millisOf(version.createTime) ?? createdAt),
          current: number === latest && enabled,
          readable: enabled && this.#withinKept(number, latest),
        };
      });
    }
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
    const [added] = await this.#send(deadline, id, add, "idempotent");
    let version = versionNumber(added);
    if (version === 1) {
      // The secret had no version: a store is between its two requests (or died there).
      const after = await updateOverHalfMade(
        this.#requestsFor(id, name, deadline),
        serialized,
        this.#options.keepVersions,
      );
      if (after === "deleted") return this.#suspects.resolved(id);
      version = after;
    }
    this.#suspects.resolved(id);
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
      this.#suspects.resolved(id);
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
        this.#suspects.resolved(id);
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
    const labels = Object.entries(this.#ownership.ownerMarks).map(([key, value]) => ` AND labels.${key}="${value}"`);
    const filter = `name:"${this.#ownership.nameStart}"${strict ? labels.join("") : ""}`;
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
        // The secret id alone: Google answers `projects/<project number>/secrets/...`, whichever
        // form of the project the request named.
        const id = this.#ownership.idOfName(secret.name?.slice(secret.name.lastIndexOf("/") + 1) ?? "");
        if (!id || seen.has(id) || (strict && !this.#ownership.isOwned(secret.labels, id))) continue;
        if (this.#suspects.has(id)) {
          if (!(await hasVersion(this.#requestsFor(id, this.nameOf(id), stepDeadline(), undefined)))) continue;
          this.#suspects.resolved(id);
        }
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
  #rpc<T>(deadline: Deadline, request: (options: Gax.CallOptions) => Promise<T>, retry: RetryMode): Promise<T> {
    return this.#requests[retry].run(deadline, this.#attempt(deadline, request));
  }

  /** Runs one request as `#rpc` does; errors are mapped to omnisecret's. */
  #send<T>(
    deadline: Deadline,
    id: string | undefined,
    request: (options: Gax.CallOptions) => Promise<T>,
    retry: RetryMode,
  ): Promise<T> {
    return this.#requests[retry].send(deadline, id, this.#attempt(deadline, request));
  }

  #attempt<T>(deadline: Deadline, request: (options: Gax.CallOptions) => Promise<T>): () => Promise<T> {
    return () => request({ timeout: deadline.requestTimeoutMs(this.#options.requestTimeoutMs), retry: null });
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

  /** Strict mode: the secret, if it exists and carries this store's labels. */
  async #getOwned(id: string, deadline: Deadline): Promise<Secret & { name: string }> {
    const [secret] = await this.#send(
      deadline,
      id,
      (options) => this.#client.getSecret({ name: this.nameOf(id) }, options),
      "idempotent",
    );
    if (!this.#ownership.isOwned(secret.labels, id)) throw new SecretNotFoundError(id, { provider: PROVIDER });
    return { ...secret, name: secret.name || this.nameOf(id) };
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
                secret: { labels: this.#ownership.marksFor(id), replication },
              },
              options,
            ),
          // Not retried on UNAVAILABLE: a create that ran would then look like someone else's.
          "write",
        );
        return secret;
      } catch (error) {
        if (grpcCode(error) !== Status.ALREADY_EXISTS || attempt >= CREATE_ATTEMPTS) throw error;
        const free = await freeHalfCreated(this.#requestsFor(id, this.nameOf(id), deadline), {
          graceMs: this.#options.halfCreatedGraceMs,
          ours: (secret) => !this.#options.verifyOwnership || this.#ownership.isOwned(secret.labels, id),
        });
        if (!free) {
          throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: error });
        }
      }
    }
  }

  /**
   * The requests ./half-made.ts sends about the secret `name` of `id`, retried as any of this
   * adapter's; an error it does not expect is mapped for `reportedId` (none for list's).
   */
  #requestsFor(id: string, name: string, deadline: Deadline, reportedId: string | undefined = id): SecretRequests {
    return {
      getSecret: async () =>
        (await this.#rpc(deadline, (options) => this.#client.getSecret({ name }, options), "idempotent"))[0],
      getLatestVersion: () =>
        this.#rpc(
          deadline,
          (options) => this.#client.getSecretVersion({ name: `${name}/versions/latest` }, options),
          "idempotent",
        ),
      accessVersion: async (version) =>
        (
          await this.#rpc(
            deadline,
            (options) => this.#client.accessSecretVersion({ name: `${name}/versions/${version}` }, options),
            "idempotent",
          )
        )[0].payload,
      addVersion: async (data) =>
        versionNumber((await this.#rpc(deadline, this.#addVersion(name, data), "idempotent"))[0]),
      deleteSecret: (etag) =>
        this.#rpc(
          deadline,
          (options) => this.#client.deleteSecret({ name, ...(etag ? { etag } : {}) }, options),
          "write",
        ),
      prune: (version, bestEffort) => this.#prune(id, name, version, bestEffort, deadline),
      unexpected: (error) => this.#map(error, reportedId),
    };
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

  /**
   * A get of "previous" or of a token. Strict mode first checks the labels (GetSecret), so no
   * value of a foreign secret is ever accessed. Each ends with GetSecret, whose createTime says
   * which incarnation the value came from; AccessSecretVersion's answer carries none.
   */
  async #readVersion(id: string, version: string, deadline: Deadline): Promise<SecretValues> {
    if (version === "previous" && this.#options.keepVersions < 2) {
      throw this.#notFound(
        id,
        `secret ${id} has no previous version to read: keepVersions is 1, so only the latest is kept`,
      );
    }
    const name = this.#options.verifyOwnership ? (await this.#getOwned(id, deadline)).name : this.nameOf(id);
    if (version === "previous") return this.#readPrevious(id, name, deadline);
    const token = parseVersionToken(version, VERSION_NUMBER);
    if (!token) throw new InvalidVersionError(id, "is not a version token of gcp", { provider: PROVIDER });
    const gone = `version ${version} of secret ${id} is gone: pruned beyond keepVersions, or the secret was deleted since`;
    // The access first, the GetSecret after: a token names incarnation I, which existed before
    // this read began, so the access read I or a later secret; GetSecret then finding I proves
    // it was I (a delete and a new store in between would show a later createTime).
    const payload = await this.#accessVersion(id, name, Number(token.native), gone, deadline);
    let incarnation: string;
    try {
      ({ incarnation } = await this.#incarnation(id, deadline));
    } catch (error) {
      if (error instanceof SecretNotFoundError) throw this.#notFound(id, gone, error);
      throw error;
    }
    if (incarnation !== token.incarnation) throw this.#notFound(id, gone);
    return this.#decode(id, payload);
  }

  /**
   * "previous": ListSecretVersions of the `keepVersions` newest (one page, newest first), the
   * newest enabled one below the latest within them, AccessSecretVersion of it, then GetSecret:
   * the version's createTime at or after the secret's proves the list, and so the access, read
   * this secret and not one deleted since. (With keepVersions 1 there is none: no request.)
   */
  async #readPrevious(id: string, name: string, deadline: Deadline): Promise<SecretValues> {
    const keep = this.#options.keepVersions;
    const none = `secret ${id} has no previous version within keepVersions (${keep})`;
    for (let attempt = 1; ; attempt += 1) {
      const [versions] = await this.#listVersionsPage(id, { parent: name, pageSize: keep }, deadline);
      const numbered = (versions ?? [])
        .map((version) => ({ version, number: versionNumber(version) ?? 0 }))
        .filter(({ number }) => number > 0)
        .sort((a, b) => b.number - a.number);
      const latest = numbered[0]?.number ?? 0;
      if (latest === 0) throw new SecretNotFoundError(id, { provider: PROVIDER });
      const previous = numbered.find(
        ({ version, number }) => number < latest && version.state === "ENABLED" && this.#withinKept(number, latest),
      );
      if (!previous) throw this.#notFound(id, none);
      const payload = await this.#accessVersion(id, name, previous.number, none, deadline);
      const { createdAt } = await this.#incarnation(id, deadline);
      if ((millisOf(previous.version.createTime) ?? createdAt) >= createdAt) return this.#decode(id, payload);
      if (attempt >= REPLACED_ATTEMPTS) throw this.#keptReplacing(id);
    }
  }

  /** Whether version `number` is among the `keepVersions` newest, `latest` being the newest. */
  #withinKept(number: number, latest: number): boolean {
    return number > latest - this.#options.keepVersions;
  }

  /** AccessSecretVersion of version `number`: its payload; a version gone (or disabled, or destroyed) is not found, saying `gone`. */
  async #accessVersion(
    id: string,
    name: string,
    number: number,
    gone: string,
    deadline: Deadline,
  ): Promise<SecretPayload | null | undefined> {
    try {
      const [response] = await this.#rpc(
        deadline,
        (options) => this.#client.accessSecretVersion({ name: `${name}/versions/${number}` }, options),
        "idempotent",
      );
      return response.payload;
    } catch (error) {
      const code = grpcCode(error);
      if (code === Status.NOT_FOUND || code === Status.FAILED_PRECONDITION) throw this.#notFound(id, gone, error);
      throw this.#map(error, id);
    }
  }

  /** Every version of the secret (ListSecretVersions, one request per page); metadata only, no value. */
  async #listVersions(id: string, deadline: Deadline): Promise<Version[]> {
    const parent = this.nameOf(id);
    const all: Version[] = [];
    let pageToken: string | undefined;
    do {
      const token = pageToken;
      const [versions, , response] = await this.#listVersionsPage(
        id,
        { parent, pageSize: this.#options.listPageSize, ...(token ? { pageToken: token } : {}) },
        deadline,
      );
      all.push(...(versions ?? []));
      pageToken = response?.nextPageToken || undefined;
    } while (pageToken);
    return all;
  }

  /**
   * One ListSecretVersions page. A server without it (the emulator the integration tests run
   * answers UNIMPLEMENTED) cannot tell "previous" or list versions: E_NOT_SUPPORTED.
   */
  async #listVersionsPage(
    id: string,
    request: protos.google.cloud.secretmanager.v1.IListSecretVersionsRequest,
    deadline: Deadline,
  ) {
    try {
      return await this.#send(
        deadline,
        id,
        (options) => this.#client.listSecretVersions(request, { ...options, autoPaginate: false }),
        "idempotent",
      );
    } catch (error) {
      if (grpcCode(error) !== Status.UNIMPLEMENTED) throw error;
      throw new OperationNotSupportedError("versions on this server (it answers UNIMPLEMENTED to ListSecretVersions)", {
        provider: PROVIDER,
        cause: error,
      });
    }
  }

  /** GetSecret (its labels checked in strict mode): the secret's createTime, in milliseconds and as a token's incarnation. */
  async #incarnation(id: string, deadline: Deadline): Promise<{ incarnation: string; createdAt: number }> {
    const secret = this.#options.verifyOwnership
      ? await this.#getOwned(id, deadline)
      : (
          await this.#send(
            deadline,
            id,
            (options) => this.#client.getSecret({ name: this.nameOf(id) }, options),
            "idempotent",
          )
        )[0];
    const createdAt = millisOf(secret.createTime);
    if (createdAt === undefined) {
      throw new SecretStoreError("E_UNKNOWN", `secret ${id} has no createTime, which its version tokens need`, {
        provider: PROVIDER,
        secretId: id,
      });
    }
    return { incarnation: incarnationOf(createdAt), createdAt };
  }

  #notFound(id: string, message: string, cause?: unknown): SecretNotFoundError {
    return new SecretNotFoundError(id, { provider: PROVIDER, message, ...(cause === undefined ? {} : { cause }) });
  }

  #keptReplacing(id: string): ProviderUnavailableError {
    return new ProviderUnavailableError(id, {
      provider: PROVIDER,
      message: `secret ${id} kept being deleted and stored again while its versions were read; try again`,
    });
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
