/**
 * Google Secret Manager by hand with the plain SDK: the fewest gRPC calls for the same effect,
 * with the owner in the secret id (`<prefix>-<owner>-<uuid>`), so no call reads the labels.
 * - store: CreateSecret (the labels; ALREADY_EXISTS on a taken id), then AddSecretVersion with the
 *   payload's CRC32C. There is no create-with-value, so two is the least.
 * - get: AccessSecretVersion of `latest` by name, one call; the CRC32C checked when returned.
 * - update: AddSecretVersion by name, which answers NOT_FOUND for a missing secret, so it never
 *   creates; one call. Where the config prunes (`pruneAction` not "none"), DestroySecretVersion
 *   (or DisableSecretVersion) of version N-keepVersions, N read from the answer: one more. The
 *   bench's emulator has no version management, so its config turns pruning off on both sides.
 * - delete: DeleteSecret by name, one call; NOT_FOUND for a missing secret.
 */
import { createRequire } from "node:module";
import { SecretManagerServiceClient } from "@google-cloud/secret-manager";
import type * as Gax from "google-gax";
import { crc32c } from "../../../adapters/gcp/crc32c.js";
import { type BenchSide, NotFound, type RawFactory } from "../../../bench/lib/side.js";

/** The plain SDK client on the emulator, with grpc from the SDK's own google-gax (a second copy fails its instanceof check). */
export function rawGcpClient(config: Record<string, unknown>): SecretManagerServiceClient {
  const sdkEntry = createRequire(import.meta.url).resolve("@google-cloud/secret-manager");
  const gax = createRequire(sdkEntry)("google-gax") as typeof Gax;
  return new SecretManagerServiceClient({
    projectId: config.projectId as string,
    apiEndpoint: config.apiEndpoint as string,
    port: config.port as number,
    sslCreds: gax.grpc.credentials.createInsecure(),
    universeDomain: "googleapis.com",
  });
}

export const createRawGcp: RawFactory = async (config, prefix) => {
  const owner = (config.owner as string | undefined) ?? "default";
  const pruneAction = (config.pruneAction as string | undefined) ?? "destroy";
  const keepVersions = (config.keepVersions as number | undefined) ?? 1;
  const client = rawGcpClient(config);
  const parent = `projects/${config.projectId as string}`;
  const secretIdOf = (id: string) => `${prefix}-${owner}-${id}`;
  const nameOf = (id: string) => `${parent}/secrets/${secretIdOf(id)}`;
  const notFoundAs = (id: string) => (error: unknown) => {
    const code = (error as { code?: number }).code;
    // NOT_FOUND, or FAILED_PRECONDITION for a latest version that is disabled or destroyed.
    throw code === 5 || code === 9 ? new NotFound(id) : error;
  };

  const payloadOf = (values: unknown) => {
    const data = Buffer.from(JSON.stringify(values), "utf8");
    return { data, dataCrc32c: crc32c(data) };
  };

  const side: BenchSide = {
    async storeSecretValues(id, values) {
      await client.createSecret({
        parent,
        secretId: secretIdOf(id),
        secret: {
          labels: { "managed-by": "omnisecret", "omnisecret-owner": owner, "omnisecret-id": id },
          replication: { automatic: {} },
        },
      });
      await client.addSecretVersion({ parent: nameOf(id), payload: payloadOf(values) });
    },
    async getSecretValues(id) {
      const [response] = await client
        .accessSecretVersion({ name: `${nameOf(id)}/versions/latest` })
        .catch(notFoundAs(id));
      const data = response.payload?.data as Uint8Array;
      const expected = response.payload?.dataCrc32c;
      if (expected !== null && expected !== undefined && Number(expected) !== crc32c(data)) {
        throw new Error("checksum mismatch");
      }
      return JSON.parse(Buffer.from(data).toString("utf8"));
    },
    async updateSecretValues(id, values) {
      const [version] = await client
        .addSecretVersion({ parent: nameOf(id), payload: payloadOf(values) })
        .catch(notFoundAs(id));
      const number = Number(/\/versions\/(\d+)$/.exec(version.name ?? "")?.[1]);
      if (pruneAction === "none" || !(number - keepVersions >= 1)) return;
      const name = `${nameOf(id)}/versions/${number - keepVersions}`;
      await (pruneAction === "disable"
        ? client.disableSecretVersion({ name })
        : client.destroySecretVersion({ name })
      ).catch((error: unknown) => {
        // Already pruned by a racing update.
        if ((error as { code?: number }).code !== 9) throw error;
      });
    },
    async deleteSecretValues(id) {
      await client.deleteSecret({ name: nameOf(id) }).catch(notFoundAs(id));
    },
    async close() {
      await client.close();
    },
  };
  return side;
};
