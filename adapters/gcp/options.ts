import * as v from "valibot";
import { cloudOptionsSchema, injectedClientSchema, integer, isLoopbackHost } from "../../src/config-schema.js";

/**
 * A `SecretManagerServiceClient` of `@google-cloud/secret-manager`, as much of it as the type
 * needs: written out so that omnisecret's types compile without the SDK installed.
 */
export interface GcpSecretManagerClient {
  createSecret(request: unknown, options?: unknown): Promise<unknown>;
  addSecretVersion(request: unknown, options?: unknown): Promise<unknown>;
  getSecret(request: unknown, options?: unknown): Promise<unknown>;
  accessSecretVersion(request: unknown, options?: unknown): Promise<unknown>;
  deleteSecret(request: unknown, options?: unknown): Promise<unknown>;
}

const location = v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{0,62}$/, "must be a GCP location such as us-east1"));

/**
 * The options every cloud adapter shares that GCP takes; 3 attempts (10 at most) as Google's client
 * libraries retry idempotent calls (omnisecret retries them itself, the SDK's retries off).
 */
const SHARED_OPTIONS = { maxAttempts: 3, mostAttempts: 10, allowPlaintextRemote: true } as const;

export const gcpOptionsSchema = v.pipe(
  cloudOptionsSchema(SHARED_OPTIONS, {
    provider: v.literal("gcp"),
    /**
     * The project that holds the secrets (its id, or its number).
     * Required; also read from `GOOGLE_CLOUD_PROJECT` and `GCLOUD_PROJECT`.
     */
    projectId: v.pipe(
      v.string((issue) =>
        issue.input === undefined
          ? "is required: set projectId, OMNISECRET_GCP_PROJECT_ID or GOOGLE_CLOUD_PROJECT"
          : "must be a string",
      ),
      v.regex(/^[a-z0-9][a-z0-9.:-]{0,98}[a-z0-9]$/, "must be a GCP project id or number"),
    ),
    /**
     * A service account key: the parsed key file JSON, at least `client_email` and `private_key`.
     * @default application default credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's, or the metadata server)
     */
    credentials: v.optional(
      v.looseObject({
        client_email: v.pipe(v.string(), v.minLength(1)),
        private_key: v.pipe(v.string(), v.minLength(1)),
      }),
    ),
    /**
     * The host of the Secret Manager API, without scheme or port; an emulator's is `127.0.0.1`.
     * @default "secretmanager.googleapis.com"
     */
    apiEndpoint: v.optional(
      v.pipe(
        v.string(),
        v.regex(
          /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[?[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\]?)$/,
          "must be a host name or IP address, without scheme or port",
        ),
      ),
    ),
    /**
     * The port of `apiEndpoint`.
     * @default 443
     */
    port: v.optional(integer(1, 65_535)),
    /**
     * Talk to `apiEndpoint` without TLS and without credentials, as emulators want. Refused unless
     * `apiEndpoint` is a loopback host (`localhost`, `127.0.0.0/8`, `::1`) or `allowPlaintextRemote` is set.
     * @default false
     */
    plaintext: v.optional(v.boolean(), false),
    /**
     * Where new secrets are replicated: `"automatic"` (Google chooses), or
     * `{ "userManaged": { "locations": ["us-east1", "europe-west1"] } }`.
     * @default "automatic"
     */
    replication: v.optional(
      v.union(
        [
          v.literal("automatic"),
          v.strictObject({
            userManaged: v.strictObject({
              locations: v.pipe(
                v.array(location),
                v.minLength(1),
                v.check((list) => new Set(list).size === list.length, "must not repeat a location"),
              ),
            }),
          }),
        ],
        'must be "automatic" or { "userManaged": { "locations": [...] } }',
      ),
      "automatic",
    ),
    /**
     * Enabled versions an update keeps, the new one included; older enabled versions are pruned
     * (see `pruneAction`), so old values do not linger or cost money.
     * @default 1
     */
    keepVersions: v.optional(integer(1, 100), 1),
    /**
     * What happens to the versions beyond `keepVersions` after an update: `"destroy"` (gone for
     * good), `"disable"` (kept, unreadable, still billed) or `"none"` (nothing: every version stays
     * enabled; for emulators without version management).
     * @default "destroy"
     */
    pruneAction: v.optional(v.picklist(["destroy", "disable", "none"]), "destroy"),
    /**
     * Results per ListSecrets page (1-25000).
     * @default 100
     */
    listPageSize: v.optional(integer(1, 25_000), 100),
    /**
     * A store is two requests (CreateSecret, then AddSecretVersion). A secret that still has no
     * version this many milliseconds after a store found its name taken is taken for the leftover
     * of a store that died between the two: that store deletes it and creates the secret anew.
     * Until then its id is taken for store (get finds no value in it).
     * @default 10000
     */
    halfCreatedGraceMs: v.optional(integer(0, 600_000), 10_000),
    /** A client you built yourself; `credentials`, `apiEndpoint`, `port` and `plaintext` are then ignored. */
    client: injectedClientSchema<GcpSecretManagerClient>(
      ["createSecret", "addSecretVersion", "getSecret", "accessSecretVersion", "deleteSecret"],
      "a SecretManagerServiceClient",
    ),
  }),
  // Each checked whenever the fields it reads are valid, even while others are not, so all is said at once.
  v.forward(
    v.partialCheck(
      [["plaintext"], ["client"], ["apiEndpoint"]],
      (options) => !options.plaintext || options.client !== undefined || options.apiEndpoint !== undefined,
      "needs apiEndpoint (the emulator's host); Google's own endpoint is only reachable over TLS",
    ),
    ["plaintext"],
  ),
  v.forward(
    v.partialCheck(
      [["plaintext"], ["client"], ["apiEndpoint"], ["allowPlaintextRemote"]],
      (options) =>
        !options.plaintext ||
        options.client !== undefined ||
        options.apiEndpoint === undefined ||
        isLoopbackHost(options.apiEndpoint) ||
        options.allowPlaintextRemote,
      "is refused for a host other than localhost, 127.0.0.0/8 or ::1 (values would cross the network unencrypted); set allowPlaintextRemote to force it",
    ),
    ["plaintext"],
  ),
);

/** Options of the Google Cloud Secret Manager provider. */
export type GcpOptions = v.InferInput<typeof gcpOptionsSchema>;
export type ResolvedGcpOptions = v.InferOutput<typeof gcpOptionsSchema>;
