/**
 * The scale workload's support on AWS Secrets Manager (see bench/lib/scale-raw.ts for what each
 * part does): ListSecrets filtered on the name, one request per page; the server filters, so L is
 * the namespace.
 */
import { paginateListSecrets, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { ScaleRawFactory } from "../../../bench/lib/scale-raw.js";
import { secretNamePattern } from "../../../src/validation.js";

export const createAwsScaleRaw: ScaleRawFactory = async ({ config, rawPrefix, owner }) => {
  const client = new SecretsManagerClient({
    region: config.region as string,
    endpoint: config.endpoint as string,
    credentials: { ...(config.credentials as { accessKeyId: string; secretAccessKey: string }) },
    maxAttempts: 3,
  });
  const pageSize = (config.listPageSize as number | undefined) ?? 100;
  async function names(start: string): Promise<string[]> {
    const found: string[] = [];
    const pages = paginateListSecrets({ client, pageSize }, { Filters: [{ Key: "name", Values: [start] }] });
    for await (const page of pages) for (const secret of page.SecretList ?? []) found.push(secret.Name ?? "");
    return found;
  }
  return {
    pageSize,
    async listRaw() {
      const start = `${rawPrefix}/${owner}/`;
      const pattern = secretNamePattern(start);
      return (await names(start)).filter((name) => pattern.test(name)).length;
    },
    async serverListed(prefix) {
      return (await names(`${prefix}/${owner}/`)).length;
    },
    async close() {
      client.destroy();
    },
  };
};
