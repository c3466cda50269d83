/**
 * Google Cloud Secret Manager. A secret is named `projects/<project>/secrets/<prefix>-<uuid>`
 * and labelled `managed-by: omnisecret`, `omnisecret-owner: <owner>` and `omnisecret-id: <uuid>`;
 * a secret without those labels is not found, and is never read, changed or deleted through
 * omnisecret. Its values are the JSON of the map, the payload of the secret's latest version.
 *
 * Requests:
 * - store: CreateSecret, then AddSecretVersion with the payload's CRC32C. The two are not
 *   atomic. If the second fails, the half-made secret is deleted again. One left behind anyway
 *   (the process died in between) has no version 1: get and update report it as not found, and
 *   a store of its id deletes and re-creates it once it has stayed so for `halfCreatedGraceMs`
 *   (the wait keeps a store from breaking another store that is between its two requests).
 * - get: GetSecret (labels), then AccessSecretVersion of `latest`, checking the CRC32C when
 *   the server returns one.
 * - update: GetSecret (labels), GetSecretVersion of `latest` (an update never brings a secret
 *   without a readable value to life), AddSecretVersion, then ListSecretVersions and
 *   Destroy/DisableSecretVersion for the enabled versions beyond `keepVersions`.
 * - delete: GetSecret (labels), then DeleteSecret with the etag it returned, so a secret
 *   replaced in between is not deleted.
 * - list: ListSecrets filtered on the labels, every page; labels and name checked again here.
 */
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import { type protos, SecretManagerServiceClient } from "@google-cloud/secret-manager";
import type * as Gax from "google-gax";
import type { AdapterContext, SecretsAdapter, SecretValues } from "../../src/contract.js";
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

/** Secret Manager's limit on a version's payload. */
export const GCP_MAX_VALUE_BYTES = 65_536;

/** Creates tried for one store: the first, and one after each removal of a half-made leftover. */
const CREATE_ATTEMPTS = 3;
/** Deletes tried while the secret's etag keeps changing under them. */
const DELETE_ATTEMPTS = 3;

/**
 * How a request is retried: `idempotent` on RESOURCE_EXHAUSTED, UNAVAILABLE and
 * DEADLINE_EXCEEDED; `write` only on RESOURCE_EXHAUSTED (the request was refused, not run);
 * `none` not at all (AccessSecretVersion, which the SDK retries itself).
 */
type RetryMode = "idempotent" | "write" | "none";

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

export class GcpSecretsAdapter implements SecretsAdapter {
  readonly provider = PROVIDER;
  readonly maxValueBytes = GCP_MAX_VALUE_BYTES;
  #client: SecretManagerServiceClient;
  #ready: Promise<void> | undefined;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #options: ResolvedGcpOptions;
  readonly #namePattern: RegExp;

  constructor(options: ResolvedGcpOptions, context: AdapterContext) {
    this.#options = options;
    this.#prefix = context.prefix;
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? this.#newClient();
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

  async storeSecretValues(id: string, _values: SecretValues, serialized: string): Promise<void> {
    const name = this.nameOf(id);
    const created = await this.#create(id);
    const data = Buffer.from(serialized, "utf8");
    try {
      await this.#rpc(
        () => this.#client.addSecretVersion({ parent: name, payload: { data, dataCrc32c: crc32c(data) } }),
        // A repeated add after an ambiguous failure only makes a second version of the same value.
        "idempotent",
      );
    } catch (error) {
      // Undo the CreateSecret, so the id stays free; if this fails too, the next store of the id
      // removes the leftover after halfCreatedGraceMs.
      await this.#rpc(
        () => this.#client.deleteSecret({ name, ...(created.etag ? { etag: created.etag } : {}) }),
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
  }

  async getSecretValues(id: string): Promise<SecretValues> {
    const secret = await this.#getOwned(id);
    // No retries of ours: the SDK retries AccessSecretVersion on RESOURCE_EXHAUSTED and UNAVAILABLE.
    const [response] = await this.#send(
      id,
      () => this.#client.accessSecretVersion({ name: `${secret.name}/versions/latest` }),
      "none",
    );
    return this.#decode(id, response.payload);
  }

  async updateSecretValues(id: string, _values: SecretValues, serialized: string): Promise<void> {
    const { name } = await this.#getOwned(id);
    // NOT_FOUND (no enabled version) and FAILED_PRECONDITION map to not found: update never creates.
    await this.#send(id, () => this.#client.getSecretVersion({ name: `${name}/versions/latest` }), "idempotent");
    const data = Buffer.from(serialized, "utf8");
    await this.#send(
      id,
      () => this.#client.addSecretVersion({ parent: name, payload: { data, dataCrc32c: crc32c(data) } }),
      "idempotent",
    );
    await this.#prune(id, name);
  }

  async deleteSecretValues(id: string): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const secret = await this.#getOwned(id);
      const etag = secret.etag || undefined;
      try {
        await this.#rpc(() => this.#client.deleteSecret({ name: secret.name, ...(etag ? { etag } : {}) }), "write");
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

  async *listSecretIds(): AsyncIterable<string> {
    const owner = this.#options.owner;
    // Label values are quoted; the labels are checked again below, as servers may ignore filters.
    const filter = `labels.${MANAGED_BY_LABEL}="${MANAGED_BY_VALUE}" AND labels.${OWNER_LABEL}="${owner}"`;
    const seen = new Set<string>();
    let pageToken: string | undefined;
    do {
      const token = pageToken;
      const [secrets, , response] = await this.#send(
        undefined,
        () =>
          this.#client.listSecrets(
            {
              parent: this.#parent,
              filter,
              pageSize: this.#options.listPageSize,
              ...(token ? { pageToken: token } : {}),
            },
            { autoPaginate: false },
          ),
        "idempotent",
      );
      for (const secret of secrets ?? []) {
        const id = this.#namePattern.exec(secret.name ?? "")?.[1];
        if (id && !seen.has(id) && this.#isOwned(secret, id)) {
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

  /** Runs one request, retried as `retry` says; errors are the SDK's. */
  async #rpc<T>(request: () => Promise<T>, retry: RetryMode): Promise<T> {
    await this.#initialize();
    if (retry === "none") return request();
    return retryWithBackoff(request, (error) => isRetryable(error, retry === "idempotent"), {
      attempts: this.#options.maxAttempts,
      initialDelayMs: 200,
      maxDelayMs: 2_000,
    });
  }

  /** Runs one request; errors are mapped to omnisecret's. */
  async #send<T>(id: string | undefined, request: () => Promise<T>, retry: RetryMode): Promise<T> {
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

  /** The secret, if it exists and carries this store's labels. */
  async #getOwned(id: string): Promise<Secret & { name: string }> {
    const [secret] = await this.#send(id, () => this.#client.getSecret({ name: this.nameOf(id) }), "idempotent");
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
          () =>
            this.#client.createSecret({
              parent: this.#parent,
              secretId: this.secretIdOf(id),
              secret: { labels: this.#labelsFor(id), replication },
            }),
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
        [secret] = await this.#rpc(() => this.#client.getSecret({ name }), "idempotent");
      } catch (error) {
        if (grpcCode(error) === Status.NOT_FOUND) return true;
        throw this.#map(error, id);
      }
      if (!this.#isOwned(secret, id)) return false;
      try {
        await this.#rpc(() => this.#client.getSecretVersion({ name: `${name}/versions/1` }), "idempotent");
        return false;
      } catch (error) {
        if (grpcCode(error) !== Status.NOT_FOUND) throw this.#map(error, id);
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        try {
          await this.#rpc(
            () => this.#client.deleteSecret({ name, ...(secret.etag ? { etag: secret.etag } : {}) }),
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
          () =>
            this.#client.listSecretVersions(
              { parent: name, filter: "state:ENABLED", pageSize: listPageSize, ...(token ? { pageToken: token } : {}) },
              { autoPaginate: false },
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
            () =>
              pruneAction === "destroy"
                ? this.#client.destroySecretVersion({ name: version.name })
                : this.#client.disableSecretVersion({ name: version.name }),
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
