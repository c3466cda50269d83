/**
 * The fewest requests each operation can send on Azure Key Vault, and why (see
 * bench/lib/minimums.ts for what a minimum means). integration-tests/request-counts.test.ts asserts
 * them on the test server; `npm run bench` reports them beside the counts it measures.
 */
import type { Minimums } from "../../../bench/lib/minimums.js";

export const azureMinimums: Minimums = {
  store: {
    requests: 2,
    why: "Key Vault has no conditional create (PUT is an upsert), so a GET first refuses an existing id, then the PUT",
  },
  get: { requests: 1, why: "one GET of the secret's current version (its tags come with it)" },
  update: {
    requests: 3,
    why: "PUT would create a missing secret, so a GET first; then the PUT of a new version, and a PATCH that disables the version it replaced (Key Vault keeps every version enabled otherwise)",
  },
  delete: {
    requests: 3,
    why: "DELETE answers 404 for a missing secret, but the name stays held by the soft-deleted secret until it is purged, and the purge is refused until the deletion shows: the DELETE, GET deletedsecrets/<name> until it shows (one or more), then the purge DELETE",
    polls: true,
  },
};
