/**
 * Google Secret Manager by hand with the SDK, with the gRPC calls the adapter sends: store is
 * CreateSecret and AddSecretVersion; get GetSecret (labels) and AccessSecretVersion; update
 * GetSecret, GetSecretVersion of `latest` and AddSecretVersion (no pruning: the emulator has no
 * version management, so the bench config turns it off on both sides); delete GetSecret and
 * DeleteSecret with its etag.
 */
import { createRequire } from "node:module";
import { type protos, SecretManagerServiceClient } from "@google-cloud/secret-manager";
import type * as Gax from "google-gax";
import { crc32c } from "../../../adapters/gcp/crc32c.js";
import { type BenchSide, NotFound, type RawFactory } from "../../../bench/lib/side.js";

export const createRawGcp: RawFactory = async (config, prefix) => {
  const owner = (config.owner as string | undefined) ?? "default";
  const sdkEntry = createRequire(import.meta.url).resolve("@google-cloud/secret-manager");
  const gax = createRequire(sdkEntry)("google-gax") as typeof Gax;
  const client = new SecretManagerServiceClient({
    projectId: config.projectId as string,
    apiEndpoint: config.apiEndpoint as string,
    port: config.port as number,
    sslCreds: gax.grpc.credentials.createInsecure(),
    universeDomain: "googleapis.com",
  });
  const parent = `projects/${config.projectId as string}`;
  const nameOf = (id: string) => `${parent}/secrets/${prefix}-${id}`;
  const isNotFound = (error: unknown) => (error as { code?: number }).code === 5;

  async function getOwned(id: string) {
    let secret: protos.google.cloud.secretmanager.v1.ISecret;
    try {
      [secret] = await client.getSecret({ name: nameOf(id) });
    } catch (error) {
      if (isNotFound(error)) throw new NotFound(id);
      throw error;
    }
    const labels = secret.labels ?? {};
    if (
      labels["managed-by"] !== "omnisecret" ||
      labels["omnisecret-owner"] !== owner ||
      labels["omnisecret-id"] !== id
    ) {
      throw new NotFound(id);
    }
    return secret;
  }

  const payloadOf = (values: unknown) => {
    const data = Buffer.from(JSON.stringify(values), "utf8");
    return { data, dataCrc32c: crc32c(data) };
  };

  const side: BenchSide = {
    async storeSecretValues(id, values) {
      await client.createSecret({
        parent,
        secretId: `${prefix}-${id}`,
        secret: {
          labels: { "managed-by": "omnisecret", "omnisecret-owner": owner, "omnisecret-id": id },
          replication: { automatic: {} },
        },
      });
      await client.addSecretVersion({ parent: nameOf(id), payload: payloadOf(values) });
    },
    async getSecretValues(id) {
      const secret = await getOwned(id);
      const [response] = await client.accessSecretVersion({ name: `${secret.name}/versions/latest` });
      const data = response.payload?.data as Uint8Array;
      const expected = response.payload?.dataCrc32c;
      if (expected !== null && expected !== undefined && Number(expected) !== crc32c(data)) {
        throw new Error("checksum mismatch");
      }
      return JSON.parse(Buffer.from(data).toString("utf8"));
    },
    async updateSecretValues(id, values) {
      const secret = await getOwned(id);
      await client.getSecretVersion({ name: `${secret.name}/versions/latest` });
      await client.addSecretVersion({ parent: secret.name as string, payload: payloadOf(values) });
    },
    async deleteSecretValues(id) {
      const secret = await getOwned(id);
      await client.deleteSecret({ name: secret.name as string, ...(secret.etag ? { etag: secret.etag } : {}) });
    },
    async close() {
      await client.close();
    },
  };
  return side;
};
