import * as v from "valibot";
import {
  cloudOptionsSchema,
  injectedClientSchema,
  integer,
  plaintextRemoteCheck,
  urlSchema,
} from "../../src/config-schema.js";

/**
 * A node-vault client (`nodeVault({...})`), as much of it as the type needs: written out so that
 * omnisecret's types compile without node-vault installed.
 */
export interface NodeVaultClient {
  read(path: string, options?: unknown): Promise<unknown>;
  write(path: string, data: unknown, options?: unknown): Promise<unknown>;
}

/**
 * The options every cloud adapter shares that Vault takes; 4 attempts ride out a standby's or a
 * sealed node's 5xx while a cluster fails over (node-vault does not retry).
 */
const SHARED_OPTIONS = { maxAttempts: 4, allowPlaintextRemote: true, caCertFile: true } as const;

export const vaultOptionsSchema = v.pipe(
  cloudOptionsSchema(SHARED_OPTIONS, {
    provider: v.literal("vault"),
    /**
     * The Vault (or OpenBao) server.
     * @default `VAULT_ADDR`, else `http://127.0.0.1:8200`
     */
    address: v.optional(urlSchema(["http", "https"]), "http://127.0.0.1:8200"),
    /** A token. Give this or `appRole`; `VAULT_TOKEN` is read when neither is in the config. */
    token: v.optional(v.pipe(v.string(), v.minLength(1))),
    /**
     * AppRole credentials: omnisecret logs in, and logs in again when the token expires or is
     * revoked, without the caller noticing.
     */
    appRole: v.optional(
      v.strictObject({
        roleId: v.pipe(v.string(), v.minLength(1)),
        secretId: v.pipe(v.string(), v.minLength(1)),
        /**
         * Where the AppRole auth method is mounted.
         * @default "approle"
         */
        mount: v.optional(v.pipe(v.string(), v.minLength(1)), "approle"),
      }),
    ),
    /** Vault Enterprise or OpenBao namespace (header `X-Vault-Namespace`). @default `VAULT_NAMESPACE` */
    namespace: v.optional(v.pipe(v.string(), v.minLength(1))),
    /**
     * Path of the KV version 2 secrets engine.
     * @default "secret"
     */
    mount: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/, "must be a mount path such as secret or team/kv"),
        // A `.` or `..` segment would point the requests at another path than the mount named.
        v.check(
          (mount) => mount.split("/").every((segment) => segment !== "." && segment !== ".."),
          "must not have . or .. segments",
        ),
      ),
      "secret",
    ),
    /**
     * Versions Vault keeps of each secret; older ones are removed. When the mount's own
     * `max_versions` (`<mount>/config`) is this or more, the mount's setting does it and a store is
     * one request; otherwise each store also writes the secret's own `max_versions`. Vault keeps
     * the larger of the secret's and the mount's `max_versions`, so this cannot go below the mount's.
     * @default 1
     */
    keepVersions: v.optional(integer(1, 1000), 1),
    /**
     * Limit on `JSON.stringify(values)` in UTF-8 bytes. Vault itself allows more; the default is
     * the smallest cloud limit but Azure's, so values that fit here move to AWS and GCP unchanged.
     * @default 65536
     */
    maxValueBytes: v.optional(integer(1), 65_536),
    /**
     * Keys per page of list's `LIST <mount>/detailed-metadata/...` (OpenBao): a list costs one
     * request per page of the keys the server holds under the owner's folder, deleted secrets'
     * included (see the adapter's opening comment). Ignored by a server without detailed-metadata
     * (HashiCorp Vault), which lists all keys in one answer. Large by default: OpenBao walks every
     * key under the folder for each page (20,000 keys on Raft: 7.0 s in pages of 1,000, 2.6 s in
     * pages of 10,000, 2.4 s in one), and a page of 10,000 keys' metadata is about 5 MB of JSON.
     * @default 10000
     */
    listPageSize: v.optional(integer(1, 100_000), 10_000),
    /** A node-vault client you built yourself; address, token, namespace and TLS options are then ignored. */
    client: injectedClientSchema<NodeVaultClient>("read", "a node-vault client"),
  }),
  plaintextRemoteCheck("address"),
);

/** Options of the HashiCorp Vault (KV version 2) provider; OpenBao works the same. */
export type VaultOptions = v.InferInput<typeof vaultOptionsSchema>;
export type ResolvedVaultOptions = v.InferOutput<typeof vaultOptionsSchema>;
