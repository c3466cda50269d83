/**
 * The fewest requests each operation can send on the local store (SQL statements: there is no
 * network), and why (see bench/lib/minimums.ts for what a minimum means). `npm run bench` reports
 * them beside the counts it measures.
 */
import type { Minimums } from "../../../bench/lib/minimums.js";

export const localMinimums: Minimums = {
  store: { requests: 1, why: "one INSERT; the primary key makes it atomic and refuses an existing id" },
  get: { requests: 1, why: "one SELECT" },
  update: {
    requests: 1,
    why: "one UPDATE, which also advances the version number (keepVersions 1, the default: nothing to keep) and whose trigger deletes versions a larger keepVersions left; zero changed rows means not found, so it never creates",
  },
  delete: {
    requests: 1,
    why: "one DELETE (its trigger removes the kept versions within the same statement); no row deleted means not found",
  },
};
