/**
 * The scale workload's support on Google Secret Manager (see bench/lib/scale-raw.ts for what each
 * part does): ListSecrets filtered on the name, one request per page. The emulator ignores the
 * filter, so L is the whole project and the raw side's list filters the names itself.
 */
import type { ScaleRawFactory } from "../../../bench/lib/scale-raw.js";
import { secretNamePattern } from "../../../src/validation.js";
import { rawGcpClient } from "./bench-raw.js";

export const createGcpScaleRaw: ScaleRawFactory = async ({ config, rawPrefix, owner }) => {
  const client = rawGcpClient(config);
  const parent = `projects/${config.projectId as string}`;
  const pageSize = (config.listPageSize as number | undefined) ?? 100;
  /** Every name the server lists for a list filtered on `start`, one request per page. */
  async function names(start: string): Promise<string[]> {
    const found: string[] = [];
    let pageToken: string | undefined;
    do {
      const [secrets, , response] = await client.listSecrets(
        { parent, filter: `name:"${start}"`, pageSize, ...(pageToken ? { pageToken } : {}) },
        { autoPaginate: false },
      );
      for (const secret of secrets ?? []) found.push(secret.name ?? "");
      pageToken = response?.nextPageToken || undefined;
    } while (pageToken);
    return found;
  }
  return {
    pageSize,
    async listRaw() {
      const start = `${rawPrefix}-${owner}-`;
      const pattern = secretNamePattern(`${parent}/secrets/${start}`);
      return (await names(start)).filter((name) => pattern.test(name)).length;
    },
    async serverListed(prefix) {
      return (await names(`${prefix}-${owner}-`)).length;
    },
    async close() {
      await client.close();
    },
  };
};
