/**
 * The fewest requests each operation can send on AWS Secrets Manager, and why (see
 * bench/lib/minimums.ts for what a minimum means). integration-tests/request-counts.test.ts asserts
 * them on the test server; `npm run bench` reports them beside the counts it measures.
 */
import type { Minimums } from "../../../bench/lib/minimums.js";

export const awsMinimums: Minimums = {
  store: {
    requests: 1,
    why: "CreateSecret carries the value and the tags, and fails with ResourceExistsException on an existing name",
  },
  get: {
    requests: 1,
    why: "GetSecretValue by name; a missing secret (or one scheduled for deletion) is an error, not an empty answer",
  },
  update: {
    requests: 1,
    why: "PutSecretValue by name answers ResourceNotFoundException for a missing secret, so it never creates",
  },
  delete: {
    requests: 2,
    why: "DeleteSecret with ForceDeleteWithoutRecovery answers success for a missing name, so one request cannot report not found: a DeleteSecret with a recovery window decides (ResourceNotFound or already scheduled for a missing one, and only one of racing deletes succeeds), then the force delete of the ARN it returned frees the name at once",
  },
};
