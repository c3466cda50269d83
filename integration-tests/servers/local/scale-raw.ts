/**
 * The scale workload's support on the local store (see bench/lib/scale-raw.ts for what each part
 * does): the raw side's own file, opened again for its list (one statement), and omnisecret's file,
 * read for what it holds. One statement answers a whole list.
 */
import Database from "better-sqlite3";
import type { ScaleRawFactory } from "../../../bench/lib/scale-raw.js";

export const createLocalScaleRaw: ScaleRawFactory = async ({ config, rawConfig, rawPrefix }) => {
  // The raw side's own file, opened again for its list: one statement, as the adapter's list without its quick check.
  const rawDb = new Database(rawConfig.path as string, { timeout: 5_000 });
  const rawList = rawDb.prepare<[string], { id: string }>(
    "SELECT id FROM omnisecret_secrets WHERE prefix = ? ORDER BY id",
  );
  // omnisecret's file, opened once it exists (the adapter makes it on its first write).
  let db: InstanceType<typeof Database> | undefined;
  return {
    pageSize: Number.POSITIVE_INFINITY,
    async listRaw() {
      return rawList.all(rawPrefix).length;
    },
    async serverListed(prefix) {
      // The raw side's own file holds the raw prefix; omnisecret's the others.
      if (prefix === rawPrefix) return rawList.all(rawPrefix).length;
      db ??= new Database(config.path as string, { timeout: 5_000, readonly: true });
      const row = db.prepare("SELECT count(*) AS n FROM omnisecret_secrets WHERE prefix = ?").get(prefix) as {
        n: number;
      };
      return row.n;
    },
    async close() {
      rawDb.close();
      db?.close();
    },
  };
};
