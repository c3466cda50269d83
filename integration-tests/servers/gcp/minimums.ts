/**
 * The fewest requests each operation can send on Google Secret Manager, and why (see
 * bench/lib/minimums.ts for what a minimum means). integration-tests/request-counts.test.ts asserts
 * them on the test server; `npm run bench` reports them beside the counts it measures.
 */
import type { Minimums } from "../../../bench/lib/minimums.js";

export const gcpMinimums: Minimums = {
  store: {
    requests: 2,
    why: "the API has no create-with-value: CreateSecret (labels; ALREADY_EXISTS on an existing id), then AddSecretVersion",
  },
  get: { requests: 1, why: "AccessSecretVersion of `latest` by name" },
  update: {
    requests: 1,
    why: "AddSecretVersion answers NOT_FOUND for a missing secret, so it never creates; pruning the replaced version (`keepVersions`) adds one DestroySecretVersion, but the emulator has no version management, so pruning is off on both sides here",
  },
  delete: { requests: 1, why: "DeleteSecret answers NOT_FOUND for a missing secret, and removes every version" },
};
