/**
 * Half-made secrets (CreateSecret done, AddSecretVersion not yet, or never: the store is under way
 * or its process died), in one place. A store linearizes at its AddSecretVersion, or earlier, at
 * the first version anyone adds to its secret; get finds no value in a secret without a version.
 * So:
 * - An update that makes version 1 wrote into a half-made secret: it counts as done after the
 *   store (a get may already have read it). It adds its payload once more (1 request), so that its
 *   value ends up newer than the store's version, whenever that lands. A dead store's leftover is
 *   thereby completed, as if that store had finished just before the update
 *   (`updateOverHalfMade`).
 * - A store whose AddSecretVersion makes a version N > 1 had updates (or a stray store, below)
 *   write first. GetSecret (1 request) tells whether the secret is still the one it created
 *   (its createTime). If it is and N = 2, the store's value stands: version 1 is an update that
 *   will add itself once more, or a version left by a store from before a delete. Otherwise the
 *   versions before N come after the store: it copies version N-1 on top of its own (AccessSecretVersion
 *   and AddSecretVersion, again while other versions land between), then prunes its own
 *   (`settleLateVersion`).
 * - A store whose AddSecretVersion answers NOT_FOUND had its secret deleted by a concurrent delete
 *   (or by a store replacing a leftover): it succeeds, ordered just before that delete. A delete of
 *   a half-made secret succeeds: the store counts as done, then deleted.
 * - A store that finds the name taken checks for a version (GetSecret, GetSecretVersion) and waits
 *   up to `halfCreatedGraceMs` for one; a secret still without a version then is a dead store's
 *   leftover, deleted and created anew (`freeHalfCreated`).
 * - list cannot tell a half-made secret from a stored one without a request per secret: a dead
 *   store's leftover is listed while get finds no value, until a store, update or delete of its id.
 *   A store of this adapter that failed after its CreateSecret may have run remembers the id
 *   (`SuspectIds`), and list checks those ids alone (`hasVersion`: GetSecretVersion each), so
 *   within one process list and get agree.
 *
 * The functions here decide; the adapter sends the requests (`SecretRequests`), with its retries,
 * deadline and error mapping.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { protos } from "@google-cloud/secret-manager";
import { grpcCode, Status } from "./errors.js";

type Secret = protos.google.cloud.secretmanager.v1.ISecret;
type SecretPayload = protos.google.cloud.secretmanager.v1.ISecretPayload;
type Timestamp = protos.google.protobuf.ITimestamp;

/** Copies a store whose version landed after others makes at most, while more versions land between. */
const SETTLE_COPIES = 5;
/** Ids whose store failed after a CreateSecret that may have run, remembered for list at most. */
const MAX_SUSPECTS = 10_000;

/**
 * The requests sent about one secret, as the adapter sends them. They fail with the SDK's errors
 * (gRPC codes), which the functions here read; `unexpected` turns any other into what the
 * adapter reports.
 */
export interface SecretRequests {
  getSecret(): Promise<Secret>;
  /** GetSecretVersion of `latest`. */
  getLatestVersion(): Promise<unknown>;
  /** AccessSecretVersion of version `version`: its payload. */
  accessVersion(version: number): Promise<SecretPayload | null | undefined>;
  /** AddSecretVersion of `data`: the number of the version it made, if the answer names it. */
  addVersion(data: string | Buffer): Promise<number | undefined>;
  /** DeleteSecret, with the etag when given. */
  deleteSecret(etag: string | undefined): Promise<unknown>;
  /**
   * Destroys (or disables, or leaves, as `pruneAction` says) version `version`; a failure is
   * reported as the adapter reports a failed prune, or ignored (`bestEffort`).
   */
  prune(version: number, bestEffort: boolean): Promise<void>;
  /** An error the functions here do not expect, as the adapter reports it. */
  unexpected(error: unknown): unknown;
}

/**
 * Ids whose store failed after a CreateSecret that may have run, and whose secret may therefore
 * be half-made: list checks these for a version before it yields them. Bounded: past
 * `MAX_SUSPECTS` the oldest is forgotten (its secret is then listed as any other process lists it).
 */
export class SuspectIds {
  readonly #ids = new Set<string>();
  readonly #max: number;

  constructor(max = MAX_SUSPECTS) {
    this.#max = max;
  }

  add(id: string): void {
    if (this.#ids.size >= this.#max) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
    this.#ids.add(id);
  }

  /** The id's secret was stored, updated or deleted since: no longer half-made by a store of ours. */
  resolved(id: string): void {
    this.#ids.delete(id);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }
}

/** Whether a suspect's secret has a version (GetSecretVersion of `latest`); a disabled or destroyed one counts. */
export async function hasVersion(requests: SecretRequests): Promise<boolean> {
  try {
    await requests.getLatestVersion();
    return true;
  } catch (error) {
    const code = grpcCode(error);
    if (code === Status.NOT_FOUND || code === Status.FAILED_PRECONDITION) return false;
    throw requests.unexpected(error);
  }
}

/**
 * After CreateSecret found the name taken: true if it is free again (the secret went away, or
 * was a half-made leftover, which is deleted here), false if the id counts as taken: the secret
 * has a version, or is not `ours` (strict mode), and is never touched then.
 *
 * A secret without a version is either another store between its two requests, or a leftover.
 * It is watched until `graceMs` has passed since this store first saw it; if it gets a version
 * meanwhile, the other store won.
 */
export async function freeHalfCreated(
  requests: SecretRequests,
  options: { graceMs: number; ours: (secret: Secret) => boolean },
): Promise<boolean> {
  const graceEndsAt = Date.now() + options.graceMs;
  let delayMs = 50;
  for (;;) {
    let secret: Secret;
    try {
      secret = await requests.getSecret();
    } catch (error) {
      if (grpcCode(error) === Status.NOT_FOUND) return true;
      throw requests.unexpected(error);
    }
    if (!options.ours(secret)) return false;
    try {
      await requests.getLatestVersion();
      return false;
    } catch (error) {
      const code = grpcCode(error);
      // FAILED_PRECONDITION: a version exists (disabled or destroyed), so the secret is not half-made.
      if (code === Status.FAILED_PRECONDITION) return false;
      if (code !== Status.NOT_FOUND) throw requests.unexpected(error);
    }
    const remainingMs = graceEndsAt - Date.now();
    if (remainingMs <= 0) {
      try {
        await requests.deleteSecret(secret.etag || undefined);
      } catch (error) {
        const code = grpcCode(error);
        if (code === Status.NOT_FOUND) return true;
        // The etag moved on: the secret changed after GetSecret, so it is not a leftover.
        if (code === Status.FAILED_PRECONDITION || code === Status.ABORTED) return false;
        throw requests.unexpected(error);
      }
      return true;
    }
    await sleep(Math.min(delayMs, remainingMs));
    delayMs = Math.min(delayMs * 2, 1_000);
  }
}

/**
 * An update whose AddSecretVersion made version 1 wrote into a half-made secret: it adds `data`
 * once more, so that its value ends up newer than the store's version, whenever that lands, and
 * prunes version 1 unless the usual prune of the new version (`keepVersions` below it) takes it.
 * Answers the number of the version made (undefined when the answer names none), or "deleted"
 * when the secret was deleted since: the update was done, then deleted.
 */
export async function updateOverHalfMade(
  requests: SecretRequests,
  data: string | Buffer,
  keepVersions: number,
): Promise<number | undefined | "deleted"> {
  let version: number | undefined;
  try {
    version = await requests.addVersion(data);
  } catch (error) {
    if (grpcCode(error) === Status.NOT_FOUND) return "deleted";
    throw requests.unexpected(error);
  }
  if (version !== undefined && version - keepVersions !== 1) await requests.prune(1, false);
  return version;
}

/**
 * A store's version landed as version `version` > 1: others wrote into its secret first. Its
 * value stands if the secret is still the one it `created` and only version 1 came before;
 * otherwise those versions are ordered after the store, and the newest of them is copied on top
 * of the store's own. Best effort beyond that: the store has succeeded either way.
 */
export async function settleLateVersion(requests: SecretRequests, created: Secret, version: number): Promise<void> {
  const createdAt = timeKey(created.createTime);
  let current: Secret;
  try {
    current = await requests.getSecret();
  } catch (error) {
    // Deleted since the version landed: the store was done, then deleted.
    if (grpcCode(error) === Status.NOT_FOUND) return;
    throw requests.unexpected(error);
  }
  const replaced = createdAt !== undefined && timeKey(current.createTime) !== createdAt;
  if (!replaced && version === 2) return;
  const mine = [version];
  let top = version;
  for (let copy = 1; copy <= SETTLE_COPIES; copy += 1) {
    let payload: SecretPayload | null | undefined;
    try {
      payload = await requests.accessVersion(top - 1);
    } catch (error) {
      const code = grpcCode(error);
      // Pruned: a newer version exists, so the store's is not the latest any more. Or deleted.
      if (code === Status.FAILED_PRECONDITION || code === Status.NOT_FOUND) break;
      throw requests.unexpected(error);
    }
    const data = payload?.data;
    if (!(data instanceof Uint8Array)) break;
    let landed: number | undefined;
    try {
      landed = await requests.addVersion(Buffer.from(data));
    } catch (error) {
      if (grpcCode(error) === Status.NOT_FOUND) return;
      throw requests.unexpected(error);
    }
    if (landed === undefined) break;
    mine.push(landed);
    // Nothing landed between the store's last version and the copy: the copy is the latest, and
    // holds the value of the version just before the store's.
    if (landed === top + 1) {
      mine.pop();
      // The store's own versions, all older than the copy now; best effort.
      for (const own of mine) await requests.prune(own, true);
      return;
    }
    top = landed;
  }
}

/** A timestamp as text (seconds may be a string, a number or a Long), or undefined without one. */
function timeKey(time: Timestamp | null | undefined): string | undefined {
  if (!time || time.seconds === null || time.seconds === undefined) return undefined;
  return `${String(time.seconds)}.${time.nanos ?? 0}`;
}
