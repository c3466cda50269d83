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
  isSecretStoreError,
  MANAGED_BY_VALUE,
  Ownership,
  PermissionDeniedError,
  ProviderUnavailableError,
  parseStoredValues,
  RequestRunner,
  SecretAlreadyExistsError,
  SecretIntegrityError,
  SecretNotFoundError,
  SecretStoreError,
  type SecretsAdapter,
  type SecretValues,
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
