/**
 * `SecretStore.watch`: polls a set of secrets and yields what changed since the poll before.
 *
 * Where the adapter has `getSecretRevision` (a metadata or version call that does not return the
 * value), a poll sends one of those per id and reads the values only of an id whose revision moved
 * (and every id's once, in the first poll, to compare with, or with the caller's `since`).
 * Elsewhere a poll reads the values (the batch path, fresh) and compares them with what the poll
 * before read, as HMAC-SHA-256 digests under a key made for this watch: no plaintext copy is kept
 * between polls, and a digest says nothing about a value to anyone without the key.
 */
import { createHmac, randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { debuglog } from "node:util";
import { forEachConcurrently } from "./concurrency.js";
import type { SecretValues } from "./contract.js";
import { SecretStoreError } from "./errors.js";

// NODE_DEBUG=omnisecret: ids and codes, never values.
const debug = debuglog("omnisecret");

/** The options of `SecretStore.watch`. */
export interface WatchOptions {
  /**
   * Milliseconds from the end of one poll to the start of the next.
   * @default 30000
   */
  readonly intervalMs?: number | undefined;
  /** Ends the watch: the iterator finishes (without an error) once it aborts, a poll in flight dropped. */
  readonly signal?: AbortSignal | undefined;
  /**
   * How many requests a poll has at the provider at once.
   * @default 8
   */
  readonly concurrency?: number | undefined;
  /**
   * The values the caller already holds, by id (an id left out: the caller found it missing). The
   * first poll, at once, then compares with these and yields what differs, so nothing written
   * between the caller's read and the watch's start is missed; without it the first poll only
   * learns where each id stands. Costs that first poll one read of the values per existing id.
   */
  readonly since?: ReadonlyMap<string, SecretValues> | undefined;
  /**
   * Called with each failure the watch outlives (`E_PROVIDER_UNAVAILABLE`, the id left as last
   * seen), for a caller that reports outages; a typed error naming the id, never a value.
   */
  readonly onError?: ((error: SecretStoreError) => void) | undefined;
}

/**
 * One change `SecretStore.watch` saw between two polls. `values` are read once, after the change
 * was seen (fresh, past the read cache): the values at that moment, a fresh object the caller may keep.
 */
export type SecretChange =
  | { readonly id: string; readonly kind: "changed" | "created"; readonly values: SecretValues }
  | { readonly id: string; readonly kind: "deleted" };

export const DEFAULT_WATCH_INTERVAL_MS = 30_000;

/** What a watch needs from the store: its reads, each failing with the typed error a get would. */
export interface WatchSource {
  readonly provider: string;
  /** The revision of `id` (`SecretNotFoundError` when missing), or `undefined`: the adapter has none. */
  readonly revision: ((id: string, signal: AbortSignal) => Promise<string>) | undefined;
  /** Fresh reads of `ids`, missing ones left out, every other failure an id's `error`. */
  readonly read: (
    ids: readonly string[],
    signal: AbortSignal,
  ) => Promise<ReadonlyMap<string, { values: SecretValues } | { error: SecretStoreError }>>;
}

/**
 * What the poll before saw of one id: whether it was missing, its revision (where the adapter has
 * them) and its values' digest (once read). A revision is kept for a missing id too: a Vault
 * tombstone whose destroy failed has one, and it must not be read again on every poll.
 */
interface Seen {
  readonly missing: boolean;
  readonly revision?: string | undefined;
  readonly digest?: string | undefined;
}

const MISSING: Seen = { missing: true };

/** How `watchSecrets` polls: the checked options, and `stop`, which ends it. */
export interface WatchLoop {
  readonly intervalMs: number;
  readonly concurrency: number;
  readonly stop: AbortSignal;
  /** The watch's own copy of `WatchOptions.since`: cleared once digested, so no plaintext stays for the watch's life. */
  readonly since?: Map<string, SecretValues> | undefined;
  readonly onError?: ((error: SecretStoreError) => void) | undefined;
}

/**
 * Yields the changes of `ids` between polls, from the second poll on (the first only learns where
 * each id stands), or from the first with `since`. Ends when `stop` aborts; throws a poll's
 * failure unless it is `E_PROVIDER_UNAVAILABLE`, which leaves the id as it was seen, goes to
 * `onError`, and is looked at again next poll.
 */
export async function* watchSecrets(
  source: WatchSource,
  ids: readonly string[],
  loop: WatchLoop,
): AsyncGenerator<SecretChange, void, undefined> {
  const { intervalMs, concurrency, stop } = loop;
  const since = loop.since !== undefined;
  const key = randomBytes(32);
  const digest = (values: SecretValues): string => {
    const entries = Object.entries(values).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return createHmac("sha256", key).update(JSON.stringify(entries)).digest("base64");
  };
  const seen = new Map<string, Seen>();
  // The caller's values stand for a poll before the first, without revisions: the first poll's
  // revision then differs from none, so it reads the values (after taking the revision, so a
  // write meanwhile moves it again) and compares them with the caller's.
  for (const id of since ? ids : []) {
    const values = loop.since?.get(id);
    seen.set(id, values === undefined ? MISSING : { missing: false, digest: digest(values) });
  }
  loop.since?.clear();
  const unavailable = (error: SecretStoreError): void => {
    if (error.code !== "E_PROVIDER_UNAVAILABLE") throw error;
    loop.onError?.(error);
  };
  let revision = source.revision;
  try {
    for (let poll = 0; ; poll += 1) {
      if (poll > 0) await sleep(intervalMs, undefined, { signal: stop });
      const first = poll === 0 && !since;
      let changes: SecretChange[] | undefined;
      if (revision !== undefined) {
        try {
          changes = await pollRevisions(source, revision, ids, seen, digest, first, concurrency, stop, unavailable);
        } catch (error) {
          // A role allowed to read values but not metadata (AWS without DescribeSecret, GCP's
          // Secret Accessor without versions.get): this watch reads values from now on. What it
          // saw so far has digests (the first poll read them), so nothing is lost.
          if (!(error instanceof RevisionDenied)) throw error;
          debug("watch: %s refused the revision request (%s); reading values instead", source.provider, error.cause);
          revision = undefined;
        }
      }
      changes ??= await pollValues(source, ids, seen, digest, first, stop, unavailable);
      for (const change of changes) yield change;
    }
  } catch (error) {
    if (stop.aborted) return;
    throw error;
  } finally {
    key.fill(0);
  }
}

/** Without revisions: every id's values read (the batch path), their digests compared. */
async function pollValues(
  source: WatchSource,
  ids: readonly string[],
  seen: Map<string, Seen>,
  digest: (values: SecretValues) => string,
  first: boolean,
  stop: AbortSignal,
  unavailable: (error: SecretStoreError) => void,
): Promise<SecretChange[]> {
  const reads = await source.read(ids, stop);
  const changes: SecretChange[] = [];
  for (const id of ids) {
    const read = reads.get(id);
    if (read !== undefined && "error" in read) {
      unavailable(read.error);
      continue;
    }
    const before = seen.get(id);
    if (read === undefined) {
      seen.set(id, MISSING);
      if (!first && before?.missing === false) changes.push({ id, kind: "deleted" });
      continue;
    }
    const now = digest(read.values);
    seen.set(id, { missing: false, digest: now });
    if (first || before === undefined) continue;
    if (before.missing) changes.push({ id, kind: "created", values: read.values });
    else if (before.digest !== now) changes.push({ id, kind: "changed", values: read.values });
  }
  return changes;
}

/**
 * With revisions: one revision request per id; the values read only where it moved, and once for
 * the baseline, so that "changed" means the values differ, whichever path a provider takes.
 */
async function pollRevisions(
  source: WatchSource,
  revisionOf: (id: string, signal: AbortSignal) => Promise<string>,
  ids: readonly string[],
  seen: Map<string, Seen>,
  digest: (values: SecretValues) => string,
  first: boolean,
  concurrency: number,
  stop: AbortSignal,
  unavailable: (error: SecretStoreError) => void,
): Promise<SecretChange[]> {
  const revisions = new Map<string, string | undefined>();
  await forEachConcurrently(ids, concurrency, async (id) => {
    try {
      revisions.set(id, await revisionOf(id, stop));
    } catch (error) {
      if (stop.aborted) throw error;
      const code = (error as SecretStoreError).code;
      if (code === "E_SECRET_NOT_FOUND") revisions.set(id, undefined);
      else if (code === "E_PERMISSION_DENIED") throw new RevisionDenied(code, { cause: code });
      else unavailable(error as SecretStoreError);
    }
  });
  const moved: string[] = [];
  const changes = new Map<string, SecretChange>();
  for (const id of ids) {
    if (!revisions.has(id)) continue;
    const revision = revisions.get(id);
    const before = seen.get(id);
    if (revision === undefined) {
      seen.set(id, MISSING);
      if (!first && before?.missing === false) changes.set(id, { id, kind: "deleted" });
    } else if (first || before === undefined || before.revision !== revision) {
      // The baseline reads the values too (once): a later write that leaves them as they were is then no event.
      moved.push(id);
    }
  }
  if (moved.length > 0) {
    const reads = await source.read(moved, stop);
    for (const id of moved) {
      const read = reads.get(id);
      const before = seen.get(id);
      if (read !== undefined && "error" in read) {
        unavailable(read.error);
        continue;
      }
      if (read === undefined) {
        // Gone between the revision and the read, or a revision of a deleted secret.
        seen.set(id, { missing: true, revision: revisions.get(id) });
        if (!first && before?.missing === false) changes.set(id, { id, kind: "deleted" });
        continue;
      }
      const now = digest(read.values);
      // The revision read before the values: a write in between moves it again, and the next
      // poll's digest tells whether the values differ from these.
      seen.set(id, { missing: false, revision: revisions.get(id), digest: now });
      if (first || before === undefined) continue;
      if (before.missing) changes.set(id, { id, kind: "created", values: read.values });
      else if (before.digest !== now) changes.set(id, { id, kind: "changed", values: read.values });
    }
  }
  // In the order the ids were given.
  return ids.flatMap((id) => changes.get(id) ?? []);
}

/** The revision request was refused: the watch falls back to reading values. Carries the code only. */
class RevisionDenied extends Error {}

/** `intervalMs` and `concurrency` checked as `getManySecretValues` checks its options. */
export function watchSettings(options: WatchOptions, provider: string): { intervalMs: number; concurrency: number } {
  const intervalMs = options.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(intervalMs) || intervalMs < 1) {
    throw new SecretStoreError("E_CONFIG", "watch: intervalMs must be a positive integer", { provider });
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new SecretStoreError("E_CONFIG", "watch: concurrency must be a positive integer", { provider });
  }
  return { intervalMs, concurrency };
}
