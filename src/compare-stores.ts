/**
 * Comparing two stores without showing a value: what `omnisecret diff` runs, and what `migrate`
 * checks its copies with. For every id either store lists, one status: `same`, `differs`,
 * `only-in-from`, `only-in-to`, or `error` (a read of it failed on one side: its code, never
 * a value; the other ids are still compared).
 *
 * Values are never compared, kept or returned as such: each value read is replaced at once by
 * its HMAC-SHA-256 under a key drawn for this run (`randomBytes(32)`) and dropped, so a result, a
 * log or a heap dump taken after a chunk holds digests no one can test a guessed value against
 * once the run is over. An unkeyed hash would let anyone holding the output confirm a guess.
 *
 * Requests: one list of each store (unless `ids` is given), then only the ids both lists hold are
 * read, through `getManySecretValues` (`fresh`: the provider's state, not this process's read
 * cache; a batch call where the provider has one), at most `concurrency` reads at each store at
 * once. An id one list alone holds is not read at all.
 *
 * Writes by others in between: the lists are a snapshot, so an id created after them is not in
 * the run. An id both lists held that a read finds gone is only in the other store (a delete in
 * between: never `same`, never an error); gone from both, it is left out, as an `ids` entry
 * neither holds is: no store holds it, so there is nothing to be the same or to differ.
 *
 * Comparing a store with itself is allowed: it reads everything twice and reports every id
 * `same` (save what changes between the two reads).
 */
import { createHmac, randomBytes } from "node:crypto";
import { forEachConcurrently } from "./concurrency.js";
import type { SecretValues } from "./contract.js";
import { isSecretStoreError, type SecretStoreErrorCode } from "./errors.js";
import type { SecretReadResult, SecretStore } from "./secret-store.js";

export type CompareStatus = "same" | "differs" | "only-in-from" | "only-in-to" | "error";

/** One id's outcome. Key names may appear (they are not values); values and digests never do. */
export type CompareEntry =
  | { readonly id: string; readonly status: "same" | "only-in-from" | "only-in-to" }
  | {
      readonly id: string;
      readonly status: "differs";
      /** Keys whose values differ, sorted. */
      readonly changedKeys: readonly string[];
      /** Keys only the `from` side's secret has, sorted. */
      readonly keysOnlyInFrom: readonly string[];
      /** Keys only the `to` side's secret has, sorted. */
      readonly keysOnlyInTo: readonly string[];
    }
  | {
      readonly id: string;
      readonly status: "error";
      /** The side whose read failed (`from` when both did). */
      readonly side: "from" | "to";
      readonly code: SecretStoreErrorCode;
      /** The error's message (omnisecret's messages carry no values). */
      readonly message: string;
    };

export interface CompareProgress {
  /** Ids the two stores (or `ids`) name. */
  readonly total: number;
  /** Ids decided so far. */
  readonly done: number;
  readonly same: number;
  /** `differs`, `only-in-from` and `only-in-to` together. */
  readonly different: number;
  readonly failed: number;
}

export interface CompareStoresOptions {
  /**
   * How many reads are at each store at once (batches, where the provider has a batch call).
   * @default 8
   */
  concurrency?: number;
  /**
   * Compare these ids only, without listing either store (what `migrate` checks its copies with).
   * An id neither store holds is left out of the result.
   */
  ids?: Iterable<string>;
  /** Stops starting new reads; the summary says `aborted` and holds the ids decided so far. */
  signal?: AbortSignal;
  /** Called once before the first read with `done: 0`, then after each chunk of ids. */
  onProgress?: (progress: CompareProgress) => void;
}

export interface CompareSummary {
  /** Every id decided, sorted by id. */
  readonly entries: readonly CompareEntry[];
  readonly same: number;
  readonly differs: number;
  readonly onlyInFrom: number;
  readonly onlyInTo: number;
  readonly errors: number;
  /** No id differs, is on one side only, or failed, and the run was not aborted. */
  readonly identical: boolean;
  readonly aborted: boolean;
}

/** Digests of one secret: each key's value under the run's key. */
type Digests = ReadonlyMap<string, string>;
type SideRead = { digests: Digests } | { missing: true } | { error: { code: SecretStoreErrorCode; message: string } };

/**
 * Compares every secret of `from` and `to`; see the module comment. Resolves with the summary
 * (also when aborted); rejects when a store cannot be listed, or a read fails as a whole (not
 * one id's failure, which is that id's `error` entry).
 */
export async function compareStores(
  from: SecretStore,
  to: SecretStore,
  options: CompareStoresOptions = {},
): Promise<CompareSummary> {
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError("concurrency must be a positive integer");
  const { signal } = options;
  const key = randomBytes(32);
  const digest = (values: SecretValues): Digests =>
    new Map(
      Object.entries(values).map(([name, value]) => [name, createHmac("sha256", key).update(value).digest("hex")]),
    );

  const entries: CompareEntry[] = [];
  let both: string[];
  let total: number;
  if (options.ids === undefined) {
    let lists: Set<string>[];
    try {
      lists = await Promise.all([listAll(from, signal), listAll(to, signal)]);
    } catch (error) {
      if (signal?.aborted) return emptyAborted();
      throw error;
    }
    const [fromIds = new Set<string>(), toIds = new Set<string>()] = lists;
    both = [...fromIds].filter((id) => toIds.has(id));
    for (const id of fromIds) if (!toIds.has(id)) entries.push({ id, status: "only-in-from" });
    for (const id of toIds) if (!fromIds.has(id)) entries.push({ id, status: "only-in-to" });
    total = both.length + entries.length;
  } else {
    both = [...new Set(options.ids)];
    total = both.length;
  }

  const counts = { same: 0, different: entries.length, failed: 0 };
  let done = entries.length;
  const report = () => options.onProgress?.({ total, done, ...counts });
  report();
  // Chunks so that progress shows and values are dropped as the run goes; large enough that the
  // pause at each chunk's end (its slowest read) costs little beside the chunk's reads.
  const chunkSize = Math.max(64, concurrency * 32);
  const chunks: string[][] = [];
  for (let start = 0; start < both.length; start += chunkSize) chunks.push(both.slice(start, start + chunkSize));
  await forEachConcurrently(
    chunks,
    1,
    async (chunk) => {
      const [fromReads, toReads] = await Promise.all(
        [from, to].map(async (store) => {
          const results = await store.getManySecretValues(chunk, {
            concurrency,
            onMissing: "skip",
            fresh: true,
            signal,
          });
          return new Map(chunk.map((id) => [id, sideRead(results.get(id), digest)]));
        }),
      );
      for (const id of chunk) {
        const entry = decide(id, fromReads?.get(id) ?? { missing: true }, toReads?.get(id) ?? { missing: true });
        if (entry === undefined) {
          total -= 1;
          continue;
        }
        entries.push(entry);
        if (entry.status === "same") counts.same += 1;
        else if (entry.status === "error") counts.failed += 1;
        else counts.different += 1;
        done += 1;
      }
      report();
    },
    signal,
  ).catch((error: unknown) => {
    // An abort ends the run with what was decided; anything else is a real failure.
    if (!signal?.aborted) throw error;
  });

  entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const count = (status: CompareStatus) => entries.filter((entry) => entry.status === status).length;
  const aborted = signal?.aborted === true && done < total;
  const summary = {
    entries,
    same: count("same"),
    differs: count("differs"),
    onlyInFrom: count("only-in-from"),
    onlyInTo: count("only-in-to"),
    errors: count("error"),
    aborted,
  };
  return { ...summary, identical: !aborted && summary.same === entries.length };
}

function emptyAborted(): CompareSummary {
  return { entries: [], same: 0, differs: 0, onlyInFrom: 0, onlyInTo: 0, errors: 0, identical: false, aborted: true };
}

async function listAll(store: SecretStore, signal: AbortSignal | undefined): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const id of store.listSecretIds()) {
    signal?.throwIfAborted();
    ids.add(id);
  }
  return ids;
}

function sideRead(result: SecretReadResult | undefined, digest: (values: SecretValues) => Digests): SideRead {
  if (result === undefined) return { missing: true };
  if ("values" in result) return { digests: digest(result.values) };
  const { error } = result;
  return {
    error: isSecretStoreError(error)
      ? { code: error.code, message: error.message }
      : { code: "E_UNKNOWN", message: "the read failed" },
  };
}

/** One id's status from both sides' reads; `undefined` when neither side has it (gone from both). */
function decide(id: string, from: SideRead, to: SideRead): CompareEntry | undefined {
  if ("error" in from) return { id, status: "error", side: "from", ...from.error };
  if ("error" in to) return { id, status: "error", side: "to", ...to.error };
  if ("missing" in from) return "missing" in to ? undefined : { id, status: "only-in-to" };
  if ("missing" in to) return { id, status: "only-in-from" };
  const changedKeys: string[] = [];
  const keysOnlyInFrom: string[] = [];
  for (const [name, value] of from.digests) {
    const other = to.digests.get(name);
    if (other === undefined) keysOnlyInFrom.push(name);
    else if (other !== value) changedKeys.push(name);
  }
  const keysOnlyInTo = [...to.digests.keys()].filter((name) => !from.digests.has(name));
  if (changedKeys.length + keysOnlyInFrom.length + keysOnlyInTo.length === 0) return { id, status: "same" };
  return {
    id,
    status: "differs",
    changedKeys: changedKeys.sort(),
    keysOnlyInFrom: keysOnlyInFrom.sort(),
    keysOnlyInTo: keysOnlyInTo.sort(),
  };
}
