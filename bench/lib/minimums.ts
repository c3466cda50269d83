/**
 * The fewest requests each operation can send on a provider while keeping omnisecret's
 * contract (ownership checks, "update never creates", not found reported, versions bounded),
 * and why. For the local store these are SQL statements, not network requests.
 */
export type Operation = "store" | "get" | "update" | "delete";

export interface Minimum {
  readonly requests: number;
  readonly why: string;
}

export const MINIMUMS: Readonly<Record<string, Readonly<Record<Operation, Minimum>>>> = {
  local: {
    store: { requests: 1, why: "one INSERT; the primary key makes it atomic and refuses an existing id" },
    get: { requests: 1, why: "one SELECT" },
    update: { requests: 1, why: "one UPDATE; zero changed rows means not found, so it never creates" },
    delete: { requests: 1, why: "one DELETE; zero changed rows means not found" },
  },
  aws: {
    store: { requests: 1, why: "CreateSecret carries the value and the tags, and fails if the name exists" },
    get: {
      requests: 2,
      why: "GetSecretValue returns no tags, so the ownership check needs DescribeSecret first (and a foreign secret's value is never fetched)",
    },
    update: {
      requests: 2,
      why: "PutSecretValue checks no tags, so DescribeSecret comes first (it also reports a missing secret, so update never creates)",
    },
    delete: { requests: 2, why: "DescribeSecret for the ownership tags, then DeleteSecret" },
  },
  vault: {
    store: {
      requests: 2,
      why: "a `cas: 0` write (atomic create), then the metadata write that sets this secret's own max_versions",
    },
    get: { requests: 1, why: "one read of the data path" },
    update: {
      requests: 2,
      why: "a plain write would create a missing secret and PATCH merges instead of replacing, so the metadata read gives the version for a `cas` write",
    },
    delete: {
      requests: 2,
      why: "DELETE on the metadata answers 204 for a missing path too, so a read first tells not found apart",
    },
  },
  gcp: {
    store: { requests: 2, why: "the API has no create-with-value: CreateSecret (labels), then AddSecretVersion" },
    get: {
      requests: 2,
      why: "AccessSecretVersion returns no labels, so the ownership check needs GetSecret first",
    },
    update: {
      requests: 2,
      why: "GetSecret (labels), then AddSecretVersion; pruning old versions would add one DestroySecretVersion, but the emulator has no version management, so pruning is off on both sides",
    },
    delete: { requests: 2, why: "GetSecret (labels and etag), then DeleteSecret with the etag" },
  },
};

/** Where omnisecret sends more than the minimum, why, and what would close the gap. */
export const EXCESS: Readonly<Record<string, Partial<Record<Operation, string>>>> = {
  gcp: {
    update:
      "the gcp adapter's update also sends GetSecretVersion of `latest` between GetSecret and AddSecretVersion, so that an update never brings a half-created secret (CreateSecret done, AddSecretVersion not, the process died in between) to life. Closing it moves the cost elsewhere: a label marking complete secrets would cost store a third request (UpdateSecret after AddSecretVersion); dropping the check would let an update complete such a leftover",
  },
};
