/**
 * Google Cloud Secret Manager. A secret is named `projects/<project>/secrets/<prefix>-<uuid>`
 * and labelled `managed-by: omnisecret`, `omnisecret-owner: <owner>` and `omnisecret-id: <uuid>`;
 * a secret without those labels is not found, and is never read, changed or deleted through
 * omnisecret. Its values are the JSON of the map, the payload of the secret's latest version.
 *
 * Requests:
 * - store: CreateSecret (labelled `omnisecret-state: storing`), then AddSecretVersion with the
 *   payload's CRC32C, then UpdateSecret to remove that label. The first two are not atomic. If
 *   the second fails, the half-made secret is deleted again. One left behind anyway (the process
 *   died in between) has no version 1: get and update report it as not found, list leaves it out,
 *   and a store of its id deletes and re-creates it once it has stayed so for `halfCreatedGraceMs`
 *   (the wait keeps a store from breaking another store that is between its two requests). The
 *   UpdateSecret is best effort; on a server without it (the emulator) it is sent once, then no more.
 * - get: GetSecret (labels), then AccessSecretVersion of `latest`, checking the CRC32C when
 *   the server returns one.
 * - update: GetSecret (labels), GetSecretVersion of `latest` (an update never brings a secret
 *   without a readable value to life), AddSecretVersion, then ListSecretVersions and
 *   Destroy/DisableSecretVersion for the enabled versions beyond `keepVersions`.
 * - delete: GetSecret (labels), then DeleteSecret with the etag it returned, so a secret
 *   replaced in between is not deleted. A secret still labelled `storing` costs a GetSecretVersion
 *   of version 1 first: without it, the secret is missing (a store under way, or a leftover).
 * - list: ListSecrets filtered on the labels, every page; labels and name checked again here.
 *   A secret still labelled `storing` is listed only if GetSecretVersion finds its version 1 (one
 *   request each; only secrets whose store died, is under way, or whose label stayed), so list
 *   and get agree on every id.
 *
 * Every operation is bounded by `operationTimeoutMs` (each page for list), each request by
 * `requestTimeoutMs` (the gax call's deadline, the SDK's own retries off: the adapter retries).
 */
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import { type protos, SecretManagerServiceClient } from "@google-cloud/secret-manager";
import type * as Gax from "google-gax";
import type { AdapterContext, SecretsAdapter, SecretValues } from "../../src/contract.js";
import { currentDeadline, DeadlineBoundAdapter } from "../../src/deadline.js";
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

export const MANAGED_BY_LABEL = "managed-by";
export const MANAGED_BY_VALUE = "omnisecret";
export const OWNER_LABEL = "omnisecret-owner";
export const ID_LABEL = "omnisecret-id";
/** On a secret whose store has not yet seen its first version made: `storing`. */
export const STATE_LABEL = "omnisecret-state";
const STORING = "storing";

/** Secret Manager's limit on a version's payload. */
export const GCP_MAX_VALUE_BYTES = 65_536;

/** Creates tried for one store: the first, and one after each removal of a half-made leftover. */
const CREATE_ATTEMPTS = 3;
/** Deletes tried while the secret's etag keeps changing under them. */
const DELETE_ATTEMPTS = 3;
/** A store stops waiting for its label update this long before its deadline. */
const MARK_STORED_MARGIN_MS = 100;

/**
 * How a request is retried: `idempotent` on RESOURCE_EXHAUSTED, UNAVAILABLE and
 * DEADLINE_EXCEEDED; `write` only on RESOURCE_EXHAUSTED (the request was refused, not run).
 */
type RetryMode = "idempotent" | "write";

/** A payload's `dataCrc32c` as a number: the SDK returns int64 fields as strings, a custom client may use numbers or Longs. */
function checksumOf(value: unknown): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = String(value);
  return /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
}

function isEnabled(state: unknown): boolean {
  return state === "ENABLED" || state === 1;
}

/** Channel credentials without TLS, from the copy of grpc-js the SDK uses (grpc-js refuses another copy's). */
function insecureChannelCredentials(): unknown {
  const sdkEntry = createRequire(import.meta.url).resolve("@google-cloud/secret-manager");
  const gax = createRequire(sdkEntry)("google-gax") as typeof Gax;
  return gax.grpc.credentials.createInsecure();
}

export class GcpSecretsAdapter extends DeadlineBoundAdapter {
  readonly provider = PROVIDER;
  readonly maxValueBytes = GCP_MAX_VALUE_BYTES;
  #client: SecretManagerServiceClient;
  #ready: Promise<void> | undefined;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #options: ResolvedGcpOptions;
  readonly #namePattern: RegExp;
  /** False once the server answered UpdateSecret with UNIMPLEMENTED (emulators). */
  #canUpdateLabels = true;

  constructor(options: ResolvedGcpOptions, context: AdapterContext) {
    super();
    this.#options = options;
    this.#prefix = context.prefix;
    this.#ownsClient = options.client === undefined;
    // The options type describes an injected client structurally, so it compiles without the SDK.
    this.#client = (options.client as SecretManagerServiceClient | undefined) ?? this.#newClient();
    this.#namePattern = secretNamePattern(`${this.#parent}/secrets/${this.#prefix}-`);
  }

  get #parent(): string {
    return `projects/${this.#options.projectId}`;
  }

  /** The secret id inside the project, `<prefix>-<uuid>`. */
  secretIdOf(id: string): string {
    return `${this.#prefix}-${id}`;
  }

  /** The full resource name of a secret. */
  nameOf(id: string): string {
    return `${this.#parent}/secrets/${this.secretIdOf(id)}`;
  }

  protected get limits() {
    return this.#options;
  }

  protected override async storeValues(id: string, _values: SecretValues, serialized: string): Promise<void> {
    const name = this.nameOf(id);
    const created = await this.#create(id);
    const data = Buffer.from(serialized, "utf8");
    try {
      await this.#rpc(
        (options) =>
          this.#client.addSecretVersion({ parent: name, payload: { data, dataCrc32c: crc32c(data) } }, options),
        // A repeated add after an ambiguous failure only makes a second version of the same value.
        "idempotent",
      );
    } catch (error) {
      // Undo the CreateSecret, so the id stays free; if this fails too, the next store of the id
      // removes the leftover after halfCreatedGraceMs.
      await this.#rpc(
        (options) => this.#client.deleteSecret({ name, ...(created.etag ? { etag: created.etag } : {}) }, options),
        "write",
      ).catch(() => undefined);
      if (grpcCode(error) === Status.NOT_FOUND) {
        throw new ProviderUnavailableError(id, {
          provider: PROVIDER,
          message: `secret ${id} was deleted by another request while it was being stored; nothing was stored`,
          cause: error,
        });
      }
      throw this.#map(error, id);
    }
    await this.#markStored(id, created);
  }

  protected override async readValues(id: string): Promise<SecretValues> {
    const secret = await this.#getOwned(id);
    const [response] = await this.#send(
      id,
      (options) => this.#client.accessSecretVersion({ name: `${secret.name}/versions/latest` }, options),
      "idempotent",
    );
    return this.#decode(id, response.payload);
  }

  protected override async updateValues(id: string, _values: SecretValues, serialized: string): Promise<void> {
    const { name } = await this.#getOwned(id);
    // NOT_FOUND (no enabled version) and FAILED_PRECONDITION map to not found: update never creates.
    await this.#send(
      id,
      (options) => this.#client.getSecretVersion({ name: `${name}/versions/latest` }, options),
      "idempotent",
    );
    const data = Buffer.from(serialized, "utf8");
    await this.#send(
      id,
      (options) =>
        this.#client.addSecretVersion({ parent: name, payload: { data, dataCrc32c: crc32c(data) } }, options),
      "idempotent",
    );
    await this.#prune(id, name);
  }

  protected override async deleteValues(id: string): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const secret = await this.#getOwned(id);
      // A store under way (or the leftover of one that died) is missing, as for get and list.
      if (!(await this.#hasBeenStored(secret, id))) throw new SecretNotFoundError(id, { provider: PROVIDER });
      const etag = secret.etag || undefined;
      try {
        await this.#rpc(
          (options) => this.#client.deleteSecret({ name: secret.name, ...(etag ? { etag } : {}) }, options),
          "write",
        );
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

  protected override async *listIds(): AsyncIterable<string> {
    const owner = this.#options.owner;
    // Label values are quoted; the labels are checked again below, as servers may ignore filters.
    const filter = `labels.${MANAGED_BY_LABEL}="${MANAGED_BY_VALUE}" AND labels.${OWNER_LABEL}="${owner}"`;
    const seen = new Set<string>();
    let pageToken: string | undefined;
    do {
      const token = pageToken;
      const [secrets, , response] = await this.#send(
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
        if (id && !seen.has(id) && this.#isOwned(secret, id) && (await this.#hasBeenStored(secret, id))) {
          seen.add(id);
          yield id;
        }
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
    if (typeof client.initialize !== "function") return Promise.resolve();
    this.#ready ??= client.initialize().then(
      () => undefined,
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
  async #rpc<T>(request: (options: Gax.CallOptions) => Promise<T>, retry: RetryMode): Promise<T> {
    await this.#initialize();
    const deadline = currentDeadline();
    const attempt = () =>
      request({
        timeout: deadline?.requestTimeoutMs(this.#options.requestTimeoutMs) ?? this.#options.requestTimeoutMs,
        retry: null,
      });
    return retryWithBackoff(attempt, (error) => isRetryable(error, retry === "idempotent"), {
      attempts: this.#options.maxAttempts,
      initialDelayMs: 200,
      maxDelayMs: 2_000,
      signal: deadline?.signal,
    });
  }

  /** Runs one request; errors are mapped to omnisecret's. */
  async #send<T>(
    id: string | undefined,
    request: (options: Gax.CallOptions) => Promise<T>,
    retry: RetryMode,
  ): Promise<T> {
    try {
      return await this.#rpc(request, retry);
    } catch (error) {
      throw this.#map(error, id);
    }
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

  /**
   * After the first version is made: the `storing` label goes, so list need not check the secret.
   * Best effort, and given up shortly before the operation's deadline: the version is made, so the
   * store has succeeded whatever becomes of the label, and must not report otherwise. Where the
   * label stays (a failure, a server without UpdateSecret), list checks for the version instead.
   * The etag keeps this from unmarking a secret someone made anew meanwhile.
   */
  async #markStored(id: string, created: Secret): Promise<void> {
    if (!this.#canUpdateLabels) return;
    if (typeof this.#client.updateSecret !== "function") {
      this.#canUpdateLabels = false;
      return;
    }
    const budgetMs = (currentDeadline()?.remainingMs() ?? this.#options.requestTimeoutMs) - MARK_STORED_MARGIN_MS;
    if (budgetMs <= 0) return;
    await Promise.race([this.#unmarkStoring(id, created), sleep(budgetMs, undefined, { ref: false })]);
  }

  async #unmarkStoring(id: string, created: Secret): Promise<void> {
    try {
      await this.#rpc(
        (options) =>
          this.#client.updateSecret(
            {
              secret: {
                name: this.nameOf(id),
                labels: this.#labelsFor(id),
                ...(created.etag ? { etag: created.etag } : {}),
              },
              updateMask: { paths: ["labels"] },
            },
            options,
          ),
        "write",
      );
    } catch (error) {
      if (grpcCode(error) === Status.UNIMPLEMENTED) this.#canUpdateLabels = false;
    }
  }

  /**
   * Whether a listed secret of ours holds a value: true unless it still carries the `storing`
   * label and has no version 1 (a store under way, or the leftover of one that died).
   */
  async #hasBeenStored(secret: Secret, id: string): Promise<boolean> {
    if (secret.labels?.[STATE_LABEL] !== STORING) return true;
    try {
      await this.#rpc(
        (options) => this.#client.getSecretVersion({ name: `${this.nameOf(id)}/versions/1` }, options),
        "idempotent",
      );
      return true;
    } catch (error) {
      if (grpcCode(error) === Status.NOT_FOUND) return false;
      throw this.#map(error, undefined);
    }
  }

  /** The secret, if it exists and carries this store's labels. */
  async #getOwned(id: string): Promise<Secret & { name: string }> {
    const [secret] = await this.#send(
      id,
      (options) => this.#client.getSecret({ name: this.nameOf(id) }, options),
      "idempotent",
    );
    if (!this.#isOwned(secret, id)) throw new SecretNotFoundError(id, { provider: PROVIDER });
    return { ...secret, name: secret.name || this.nameOf(id) };
  }

  /** CreateSecret; when the name is taken by a half-made leftover of ours, removes it and tries again. */
  async #create(id: string): Promise<Secret> {
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
          (options) =>
            this.#client.createSecret(
              {
                parent: this.#parent,
                secretId: this.secretIdOf(id),
                // Marked as being stored until its first version is there (see #markStored).
                secret: { labels: { ...this.#labelsFor(id), [STATE_LABEL]: STORING }, replication },
              },
              options,
            ),
          // Not retried on UNAVAILABLE: a create that ran would then look like someone else's.
          "write",
        );
        return secret;
      } catch (error) {
        if (grpcCode(error) !== Status.ALREADY_EXISTS || attempt >= CREATE_ATTEMPTS) throw this.#map(error, id);
        if (!(await this.#freeHalfCreated(id)))
          throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: error });
      }
    }
  }

  /**
   * After CreateSecret found the name taken: true if it is free again (the secret went away, or
   * was a half-made leftover of ours, which is deleted here), false if the id counts as taken:
   * the secret has a version, or is not ours (never touched then).
   *
   * A secret of ours without version 1 is either another store between its two requests, or a
   * leftover. It is watched until `halfCreatedGraceMs` has passed since this store first saw it;
   * if it gets a version meanwhile, the other store won.
   */
  async #freeHalfCreated(id: string): Promise<boolean> {
    const name = this.nameOf(id);
    const deadline = Date.now() + this.#options.halfCreatedGraceMs;
    let delayMs = 50;
    for (;;) {
      let secret: Secret;
      try {
        [secret] = await this.#rpc((options) => this.#client.getSecret({ name }, options), "idempotent");
      } catch (error) {
        if (grpcCode(error) === Status.NOT_FOUND) return true;
        throw this.#map(error, id);
      }
      if (!this.#isOwned(secret, id)) return false;
      try {
        await this.#rpc(
          (options) => this.#client.getSecretVersion({ name: `${name}/versions/1` }, options),
          "idempotent",
        );
        return false;
      } catch (error) {
        if (grpcCode(error) !== Status.NOT_FOUND) throw this.#map(error, id);
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        try {
          await this.#rpc(
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
   * Destroys (or disables) the enabled versions beyond `keepVersions`, newest kept. Versions a
   * concurrent update pruned first are skipped; any other failure is reported, saying that the
   * update itself was made.
   */
  async #prune(id: string, name: string): Promise<void> {
    const { pruneAction, keepVersions, listPageSize } = this.#options;
    if (pruneAction === "none") return;
    try {
      const enabled: { name: string; number: number }[] = [];
      let pageToken: string | undefined;
      do {
        const token = pageToken;
        const [versions, , response] = await this.#rpc(
          (options) =>
            this.#client.listSecretVersions(
              { parent: name, filter: "state:ENABLED", pageSize: listPageSize, ...(token ? { pageToken: token } : {}) },
              { ...options, autoPaginate: false },
            ),
          "idempotent",
        );
        for (const version of versions ?? []) {
          const number = Number(/\/versions\/(\d+)$/.exec(version.name ?? "")?.[1]);
          if (isEnabled(version.state) && Number.isSafeInteger(number)) {
            enabled.push({ name: version.name as string, number });
          }
        }
        pageToken = response?.nextPageToken || undefined;
      } while (pageToken);
      enabled.sort((a, b) => b.number - a.number);
      for (const version of enabled.slice(keepVersions)) {
        try {
          await this.#rpc(
            (options) =>
              pruneAction === "destroy"
                ? this.#client.destroySecretVersion({ name: version.name }, options)
                : this.#client.disableSecretVersion({ name: version.name }, options),
            "write",
          );
        } catch (error) {
          const code = grpcCode(error);
          if (code !== Status.NOT_FOUND && code !== Status.FAILED_PRECONDITION) throw error;
        }
      }
    } catch (error) {
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
