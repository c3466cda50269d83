/**
 * The fewest requests each operation can send on a provider for the contract's meaning, derived
 * from the provider's API (not from what the adapter happens to do): store refuses an existing
 * id, update and delete report a missing one and update never creates, get returns the whole map,
 * and a replaced value does not stay readable beyond what `keepVersions` asks for. Ownership costs
 * no request in the default configuration, because the owner is part of the name
 * (`verifyOwnership: true` checks the tags first and costs more; see each provider's page).
 * For the local store these are SQL statements, not network requests.
 *
 * `integration-tests/request-counts.test.ts` asserts these numbers against every provider's test
 * server, so a change that adds a request fails a test; `npm run bench` reports them beside the
 * counts it measures on both sides.
 */
export type Operation = "store" | "get" | "update" | "delete";

export interface Minimum {
  readonly requests: number;
  readonly why: string;
  /**
   * Set where the provider finishes the operation in the background and the client polls until it
   * is done: `requests` counts one poll, and repeats of the same poll are not counted against it.
   */
  readonly polls?: true;
}

export const MINIMUMS: Readonly<Record<string, Readonly<Record<Operation, Minimum>>>> = {
  local: {
    store: { requests: 1, why: "one INSERT; the primary key makes it atomic and refuses an existing id" },
    get: { requests: 1, why: "one SELECT" },
    update: { requests: 1, why: "one UPDATE; zero changed rows means not found, so it never creates" },
    delete: { requests: 1, why: "one DELETE; zero changed rows means not found" },
  },
  aws: {
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
  },
  vault: {
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
  },
  gcp: {
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
  },
  azure: {
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
  },
};

/** Where omnisecret sends more than the minimum, why, and what would close the gap. */
export const EXCESS: Readonly<Record<string, Partial<Record<Operation, string>>>> = {};
