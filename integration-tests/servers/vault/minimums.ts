/**
 * The fewest requests each operation can send on Vault's KV v2 (OpenBao), and why (see
 * bench/lib/minimums.ts for what a minimum means). integration-tests/request-counts.test.ts asserts
 * them on the test server; `npm run bench` reports them beside the counts it measures.
 */
import type { Minimums } from "../../../bench/lib/minimums.js";

export const vaultMinimums: Minimums = {
  store: {
    requests: 1,
    why: "one write with `cas: 0`, which fails when the path has a version. How many versions are kept is the mount's `max_versions`, set once per mount (`bao write secret/config max_versions=1`; the test servers do); KV v2 keeps the larger of the mount's and a secret's own setting, so on a mount that keeps more than `keepVersions` no per-secret write could lower it, and on one that keeps fewer omnisecret writes the secret's metadata too (2)",
  },
  get: { requests: 1, why: "one read of the data path" },
  update: {
    requests: 2,
    why: "a write without `cas` creates a missing secret and PATCH merges instead of replacing, so a read first gives the version for a `cas` write, which then cannot create",
  },
  delete: {
    requests: 3,
    why: "DELETE on the metadata answers 204 for a missing path too, so a read comes first to tell not found. That DELETE (the bench's raw side, 2 requests) is unconditional and restarts the version numbers, so racing deletes would all succeed and a slow one could remove a secret stored again: a `cas` write of a tombstone over the version read decides instead (one winner). KV v2 has no write that is both conditional and visible in a LIST, so a third request, the destroy of the tombstone's version by number, lets list skip a deleted secret from the LIST of detailed-metadata alone, rather than read every deleted secret's key (issue 21)",
  },
};
