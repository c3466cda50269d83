/**
 * The scale workload (`npm run bench -- --scale`, or `BENCH_SCALE=1`): per provider, on omnisecret
 * and on the raw SDK side in turn, each with `SCALE_CONCURRENCY` operations in flight:
 *
 *   setup:   store `SCALE_KEPT` secrets that stay live throughout (unmeasured), and a short warm-up;
 *   round:   store N secrets, get a sample of them, list the namespace (N + kept live), delete the
 *            N, list the namespace again (kept live: most of what was there was just deleted);
 *   twice:   round 2 stores N new ids in the same namespace, over the history round 1's deletes
 *            left behind (the issue's "1,000 stored and deleted, then 1,000 more"): what is
 *            measured is whether operations slow as deletions accumulate. Storing a deleted id
 *            again is a different operation with its own cost on vault (see adapters/vault);
 *   cleanup: delete the kept secrets (and vault's tombstones of omnisecret's deletes).
 *
 * Sides alternate per round (omnisecret round 1, raw round 1, omnisecret round 2, raw round 2), so
 * each side's second round is measured with the same history behind it as its first, plus its own
 * first round. Reported per operation: the median latency in each round and their ratio (target:
 * at most 1.2), requests per operation; per list: time, requests, the ids listed, what the server
 * listed (L), and the target ceil(L / page size) + 1 requests.
 */
import { randomUUID } from "node:crypto";
import { requestCount } from "./counters.js";
import { table } from "./report.js";
import type { BenchSide } from "./side.js";
import { median, percentile, round } from "./stats.js";
import { BENCH_VALUES } from "./workloads.js";

/** N where a test side sets none (`scaleDefaultN`, integration-tests/servers/index.ts). */
export const SCALE_DEFAULT_N = 2_000;
export const SCALE_CONCURRENCY = 8;
/** Gets per round: at a tenth of a millisecond each on local, 200 made a window one pause could move. */
export const SCALE_SAMPLE = 1_000;
export const SCALE_KEPT = 10;
/** Each list is sent up to this many times in a row (fewer once 2 s are spent), so a list of a few live secrets, about a millisecond, has a median that one slow answer does not move; its latency is their median. */
export const SCALE_LIST_REPEATS = 15;
const SCALE_LIST_BUDGET_MS = 2_000;
export const SCALE_TARGETS = { roundRatio: 1.2 } as const;

/**
 * N per provider: `defaults` (each provider's, from its test side), then `BENCH_SCALE_N`: one
 * number for every provider, or `provider=n` pairs (`aws=2000,gcp=500`).
 */
export function scaleSizes(
  raw: string | undefined,
  defaults: Readonly<Record<string, number>>,
): Record<string, number> {
  const sizes: Record<string, number> = { ...defaults };
  const providers = Object.keys(defaults);
  if (raw === undefined || raw.trim() === "") return sizes;
  const positive = (text: string) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`BENCH_SCALE_N: ${text} is not a positive integer`);
    return value;
  };
  if (!raw.includes("=")) {
    const value = positive(raw.trim());
    for (const provider of providers) sizes[provider] = value;
    return sizes;
  }
  for (const pair of raw.split(",")) {
    const [provider, value] = pair.split("=").map((part) => part.trim());
    if (!provider || value === undefined) throw new Error(`BENCH_SCALE_N: cannot read "${pair}"`);
    sizes[provider] = positive(value);
  }
  return sizes;
}

export type ScaleOperation = "store" | "get" | "delete";
export const SCALE_OPERATIONS: readonly ScaleOperation[] = ["store", "get", "delete"];
export type ScaleList = "list" | "listAfterDeletes";
export const SCALE_LISTS: readonly ScaleList[] = ["list", "listAfterDeletes"];

export interface OperationSummary {
  ops: number;
  medianMs: number;
  p99Ms: number;
  opsPerSec: number;
  requestsPerOp: number;
}

export interface ListSummary {
  /** Median over the repeats. */
  ms: number;
  /** Requests of one list (the median over the repeats). */
  requests: number;
  /** Ids the list returned (live secrets). */
  listed: number;
  /** Keys the server listed (L): more than `listed` where it lists beyond the namespace, or deleted secrets' leftovers. */
  serverListed: number;
  msPerLiveSecret: number;
  /**
   * The server's own time for the requests this list sent, sent again by the raw client right
   * after (median of up to 3), where the provider's scale support can send them (vault's paged
   * LIST of the detailed metadata): what a list costs that omnisecret does not add.
   */
  serverMs?: number;
}

export type ScaleRound = Record<ScaleOperation, OperationSummary> & Record<ScaleList, ListSummary>;

export interface ScaleSideResult {
  rounds: ScaleRound[];
}

export interface ScaleResult {
  provider: string;
  date: string;
  n: number;
  sample: number;
  kept: number;
  concurrency: number;
  pageSize: number | "all";
  omnisecret: ScaleSideResult;
  raw: ScaleSideResult;
}

/** One side of the scale workload: its four operations, its list, and what the server lists for it. */
export interface ScaleSide {
  readonly side: BenchSide;
  list(): Promise<number>;
  serverListed(): Promise<number>;
  /** The same list requests sent by the raw client, timed (see `ListSummary.serverMs`). */
  timeListRequests?(): Promise<number>;
}

async function pooled(ids: readonly string[], operation: (id: string) => Promise<unknown>): Promise<OperationSummary> {
  const latenciesMs = new Array<number>(ids.length);
  let next = 0;
  const requestsBefore = requestCount();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(SCALE_CONCURRENCY, ids.length) }, async () => {
      while (next < ids.length) {
        const index = next;
        next += 1;
        const opStart = performance.now();
        await operation(ids[index] as string);
        latenciesMs[index] = performance.now() - opStart;
      }
    }),
  );
  const ms = performance.now() - start;
  return {
    ops: ids.length,
    medianMs: round(median(latenciesMs), 3),
    p99Ms: round(percentile(latenciesMs, 99), 3),
    opsPerSec: round((ids.length / ms) * 1_000, 1),
    requestsPerOp: round((requestCount() - requestsBefore) / ids.length, 3),
  };
}

async function listed(side: ScaleSide): Promise<ListSummary> {
  const times: number[] = [];
  const requests: number[] = [];
  let count = 0;
  let spent = 0;
  for (let repeat = 0; repeat < SCALE_LIST_REPEATS && spent < SCALE_LIST_BUDGET_MS; repeat += 1) {
    const requestsBefore = requestCount();
    const start = performance.now();
    count = await side.list();
    times.push(performance.now() - start);
    spent += times.at(-1) as number;
    requests.push(requestCount() - requestsBefore);
  }
  const ms = median(times);
  const serverTimes: number[] = [];
  for (
    let spentOnServer = 0;
    side.timeListRequests && serverTimes.length < 3 && spentOnServer < SCALE_LIST_BUDGET_MS;
  ) {
    serverTimes.push(await side.timeListRequests());
    spentOnServer += serverTimes.at(-1) as number;
  }
  return {
    ms: round(ms, 2),
    requests: median(requests),
    listed: count,
    serverListed: await side.serverListed(),
    msPerLiveSecret: count > 0 ? round(ms / count, 4) : Number.NaN,
    ...(serverTimes.length > 0 ? { serverMs: round(median(serverTimes), 2) } : {}),
  };
}

async function scaleRound(side: ScaleSide, ids: readonly string[], sample: readonly string[]): Promise<ScaleRound> {
  const store = await pooled(ids, (id) => side.side.storeSecretValues(id, BENCH_VALUES));
  const get = await pooled(sample, (id) => side.side.getSecretValues(id));
  const list = await listed(side);
  const deleted = await pooled(ids, (id) => side.side.deleteSecretValues(id));
  const listAfterDeletes = await listed(side);
  return { store, get, delete: deleted, list, listAfterDeletes };
}

/** The whole workload on both sides; `log` reports progress. */
export async function runScale(
  provider: string,
  sides: { omnisecret: ScaleSide; raw: ScaleSide },
  options: { n: number; pageSize: number; log: (message: string) => void },
): Promise<ScaleResult> {
  const names = ["omnisecret", "raw"] as const;
  // Each round's own ids (see the opening comment).
  const ids = { omnisecret: [fresh(options.n), fresh(options.n)], raw: [fresh(options.n), fresh(options.n)] };
  const kept = { omnisecret: fresh(SCALE_KEPT), raw: fresh(SCALE_KEPT) };
  const result: ScaleResult = {
    provider,
    date: new Date().toISOString(),
    n: options.n,
    sample: Math.min(SCALE_SAMPLE, options.n),
    kept: SCALE_KEPT,
    concurrency: SCALE_CONCURRENCY,
    pageSize: Number.isFinite(options.pageSize) ? options.pageSize : "all",
    omnisecret: { rounds: [] },
    raw: { rounds: [] },
  };
  try {
    for (const name of names) {
      const side = sides[name];
      await pooled(kept[name], (id) => side.side.storeSecretValues(id, BENCH_VALUES));
      // Warm-up, unmeasured: the SDKs' code paths, the connections, a token where there is one.
      const warm = fresh(Math.min(50, options.n));
      await pooled(warm, (id) => side.side.storeSecretValues(id, BENCH_VALUES));
      await pooled(warm, (id) => side.side.getSecretValues(id));
      await side.list();
      await pooled(warm, (id) => side.side.deleteSecretValues(id));
    }
    for (let index = 0; index < 2; index += 1) {
      for (const name of names) {
        const start = performance.now();
        const roundIds = ids[name][index] as string[];
        const sample = sampleOf(roundIds, result.sample);
        result[name].rounds.push(await scaleRound(sides[name], roundIds, sample));
        options.log(`${provider}: scale round ${index + 1}, ${name}: ${Math.round(performance.now() - start)} ms`);
      }
    }
  } finally {
    // A run that failed midway leaves secrets behind: remove whatever of them is there, best-effort.
    const complete = result.raw.rounds.length === 2;
    for (const name of names) {
      const left = complete ? kept[name] : [...kept[name], ...ids[name].flat()];
      await pooled(left, (id) => sides[name].side.deleteSecretValues(id).catch(() => undefined));
    }
  }
  return result;
}

function fresh(count: number): string[] {
  return Array.from({ length: count }, () => randomUUID());
}

function sampleOf(ids: readonly string[], size: number): string[] {
  const copy = [...ids];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as string, copy[i] as string];
  }
  return copy.slice(0, size);
}

/** ceil(L / page size) + 1: the most requests a list of L keys may send. */
export function listRequestTarget(serverListed: number, pageSize: number | "all"): number {
  const pages = pageSize === "all" ? (serverListed > 0 ? 1 : 0) : Math.ceil(serverListed / pageSize);
  return pages + 1;
}

export interface ScaleCheck {
  provider: string;
  target: string;
  subject: string;
  value: string;
  met: boolean;
  /** The raw side on the same server: its value for the same check. */
  raw: string;
  /** Whether the raw side misses the same target: the server's doing, not omnisecret's. */
  rawMisses: boolean;
  /** omnisecret's requests per operation in round 1 and 2 (latency checks). */
  requests?: [number, number];
}

const ratioOf = (side: ScaleSideResult, pick: (round: ScaleRound) => number) => {
  const [first, second] = side.rounds;
  return first && second ? round(pick(second) / pick(first), 2) : Number.NaN;
};

export function checkScale(result: ScaleResult): ScaleCheck[] {
  const checks: ScaleCheck[] = [];
  const latency = [
    ...SCALE_OPERATIONS.map((operation) => [operation, (r: ScaleRound) => r[operation].medianMs] as const),
    ...SCALE_LISTS.map((list) => [listName(list), listTimePerListedKey(list)] as const),
  ];
  const requestsOf = (subject: string, r: ScaleRound | undefined) => {
    if (!r) return Number.NaN;
    const operation = SCALE_OPERATIONS.find((name) => name === subject);
    if (operation) return r[operation].requestsPerOp;
    return subject === "list" ? r.list.requests : r.listAfterDeletes.requests;
  };
  for (const [subject, pick] of latency) {
    const ratio = ratioOf(result.omnisecret, pick);
    const [first, second] = result.omnisecret.rounds;
    const list = SCALE_LISTS.find((candidate) => listName(candidate) === subject);
    // A list's own requests, sent again by the raw client, where they can be: the server's share
    // of the list's growth (else the raw side's own list, which may send other requests).
    const sameRequests =
      list !== undefined && first?.[list].serverMs !== undefined && second?.[list].serverMs !== undefined;
    const rawRatio = sameRequests
      ? ratioOf(result.omnisecret, (r) => (r[list].serverMs as number) / Math.max(1, r[list].serverListed))
      : ratioOf(result.raw, pick);
    // A list's requests grow with L by design (one per page); the request target below judges them.
    const listRequestsMet =
      list !== undefined &&
      result.omnisecret.rounds.every(
        (r) => r[list].requests <= listRequestTarget(r[list].serverListed, result.pageSize),
      );
    checks.push({
      provider: result.provider,
      target: `round 2 median at most ${SCALE_TARGETS.roundRatio}x round 1`,
      subject,
      value: `${ratio}x`,
      met: ratio <= SCALE_TARGETS.roundRatio,
      raw: sameRequests ? `${rawRatio}x (omnisecret's list requests, sent by the raw client)` : `${rawRatio}x`,
      rawMisses: rawRatio > SCALE_TARGETS.roundRatio,
      ...(listRequestsMet ? {} : { requests: [requestsOf(subject, first), requestsOf(subject, second)] }),
    });
  }
  for (const list of SCALE_LISTS) {
    result.omnisecret.rounds.forEach((r, index) => {
      const raw = result.raw.rounds[index];
      const target = listRequestTarget(r[list].serverListed, result.pageSize);
      const rawTarget = raw ? listRequestTarget(raw[list].serverListed, result.pageSize) : Number.NaN;
      checks.push({
        provider: result.provider,
        target: "requests per list at most ceil(L / page) + 1",
        subject: `${listName(list)}, round ${index + 1}`,
        value: `${r[list].requests} for L = ${r[list].serverListed} (at most ${target})`,
        met: r[list].requests <= target,
        raw: raw ? `${raw[list].requests} for L = ${raw[list].serverListed}` : "-",
        rawMisses: raw ? raw[list].requests > rawTarget : false,
      });
    });
  }
  return checks;
}

/**
 * A list's latency as the round-to-round target reads it: its time per key the server lists (L).
 * Where the server keeps listing what deleted secrets leave (vault: their keys, which cannot be
 * removed safely; see adapters/vault), L grows by the N deleted each round, and the list's time
 * with it; what must not grow is the time per listed key. Where L stays the same, it is the time.
 */
function listTimePerListedKey(list: ScaleList): (r: ScaleRound) => number {
  return (r) => r[list].ms / Math.max(1, r[list].serverListed);
}

function listName(list: ScaleList): string {
  return list === "list" ? "list" : "list after deletes";
}

const ms = (value: number) => (Number.isFinite(value) ? String(round(value, value < 10 ? 2 : 1)) : "-");

export const SCALE_START = "<!-- bench:scale:start -->";
export const SCALE_END = "<!-- bench:scale:end -->";

/** The scale section of latest.md, markers included, from every provider's latest scale result. */
export function scaleMarkdown(results: readonly ScaleResult[], machine: { cpu: string; cores: number }): string {
  const lines = [SCALE_START, "## Scale (`npm run bench -- --scale`)", ""];
  lines.push(
    `${machine.cpu}, ${machine.cores} cores. Per provider, on omnisecret and on the raw SDK side in turn with ${SCALE_CONCURRENCY} operations in flight: store N secrets, get ${SCALE_SAMPLE} of them, list the namespace (N + ${SCALE_KEPT} live), delete the N, list again (${SCALE_KEPT} live: the namespace where N were just deleted); then a second round on N new ids in the same namespace, over what the first round's deletes left. Before round 1 each side stores the ${SCALE_KEPT} and runs an unmeasured warm-up (50 stores, gets and deletes, a list). Latency: the median per operation in each round (a list: the median of up to ${SCALE_LIST_REPEATS} in a row, fewer once 2 s are spent). The ratio is round 2's over round 1's (target: at most ${SCALE_TARGETS.roundRatio}x; ✗ a miss); for omnisecret's lists, of the time per key the server lists (L, in the table below): where the server keeps listing deleted secrets' keys (vault), L grows by N each round, and the time per listed key is what must not grow; the raw side's ratio on the same server beside it tells what the server does. Requests counted as in the other tables (SQL statements for local). Servers as a test side's \`scaleServerEnv\` says (vault: an OpenBao of its own on Raft storage; see docs/development.md). Each provider's rows are from its latest scale run (the date column).`,
    "",
  );
  lines.push(
    ...table(
      [
        "provider",
        "N (date)",
        "operation",
        "omnisecret ms (round 1 / 2)",
        "ratio",
        "raw ms (round 1 / 2)",
        "raw ratio",
        "requests/op (omni / raw)",
      ],
      [],
      results.flatMap((result) => {
        const o = result.omnisecret.rounds;
        const r = result.raw.rounds;
        const both = (side: ScaleRound[], pick: (x: ScaleRound) => number) =>
          `${ms(side[0] ? pick(side[0]) : Number.NaN)} / ${ms(side[1] ? pick(side[1]) : Number.NaN)}`;
        const rows: string[][] = [];
        const when = `${result.n} (${result.date.slice(0, 16).replace("T", " ")})`;
        for (const operation of SCALE_OPERATIONS) {
          const pick = (x: ScaleRound) => x[operation].medianMs;
          rows.push([
            result.provider,
            when,
            operation,
            both(o, pick),
            mark(ratioOf(result.omnisecret, pick)),
            both(r, pick),
            `${ratioOf(result.raw, pick)}x`,
            `${o[0]?.[operation].requestsPerOp ?? "-"}, ${o[1]?.[operation].requestsPerOp ?? "-"} / ${r[0]?.[operation].requestsPerOp ?? "-"}, ${r[1]?.[operation].requestsPerOp ?? "-"}`,
          ]);
        }
        for (const list of SCALE_LISTS) {
          const pick = (x: ScaleRound) => x[list].ms;
          const perKey = listTimePerListedKey(list);
          rows.push([
            result.provider,
            when,
            listName(list),
            both(o, pick),
            mark(ratioOf(result.omnisecret, perKey)),
            both(r, pick),
            `${ratioOf(result.raw, pick)}x`,
            `${o[0]?.[list].requests ?? "-"}, ${o[1]?.[list].requests ?? "-"} / ${r[0]?.[list].requests ?? "-"}, ${r[1]?.[list].requests ?? "-"} per list`,
          ]);
        }
        return rows;
      }),
    ),
  );
  lines.push("");
  lines.push(
    "Lists: L is what the server listed (the whole project on the GCP emulator, which ignores the name filter, and the whole vault on Key Vault; on vault every key under the owner's folder, omnisecret's tombstones of deleted secrets included); the target is ceil(L / page size) + 1 requests.",
    "",
  );
  lines.push(
    ...table(
      [
        "provider",
        "list",
        "round",
        "live listed (omni / raw)",
        "L (omni / raw)",
        "page size",
        "requests (omni / raw)",
        "target",
        "ms per live secret (omni / raw)",
        "ms (omni / its requests, raw client)",
      ],
      [],
      results.flatMap((result) =>
        SCALE_LISTS.flatMap((list) =>
          result.omnisecret.rounds.map((o, index) => {
            const r = result.raw.rounds[index];
            const target = listRequestTarget(o[list].serverListed, result.pageSize);
            return [
              result.provider,
              listName(list),
              String(index + 1),
              `${o[list].listed} / ${r?.[list].listed ?? "-"}`,
              `${o[list].serverListed} / ${r?.[list].serverListed ?? "-"}`,
              String(result.pageSize),
              `${o[list].requests}${o[list].requests <= target ? "" : " ✗"} / ${r?.[list].requests ?? "-"}`,
              String(target),
              `${ms4(o[list].msPerLiveSecret)} / ${ms4(r?.[list].msPerLiveSecret ?? Number.NaN)}`,
              `${ms(o[list].ms)} / ${ms(o[list].serverMs ?? Number.NaN)}`,
            ];
          }),
        ),
      ),
    ),
  );
  lines.push("");
  const checks = results.flatMap(checkScale);
  const missed = checks.filter((check) => !check.met);
  lines.push(`Scale targets: ${checks.length - missed.length} of ${checks.length} met.`);
  if (missed.length > 0) {
    lines.push("");
    lines.push(
      ...table(
        ["missed target", "provider", "where", "omnisecret", "raw SDK, same server", "whose"],
        [],
        missed.map((check) => [check.target, check.provider, check.subject, check.value, check.raw, verdict(check)]),
      ),
    );
  }
  lines.push(SCALE_END);
  return `${lines.join("\n")}\n`;
}

/** Whose a miss is: requests omnisecret added in round 2 are its own; a miss the raw side shares is the server's. */
function verdict(check: ScaleCheck): string {
  const [first, second] = check.requests ?? [Number.NaN, Number.NaN];
  if (second > first) {
    const server = check.rawMisses ? `; the server slows too (the raw side ${check.raw})` : "";
    return `omnisecret's: ${first} requests per operation in round 1, ${second} in round 2${server}`;
  }
  if (check.rawMisses) return "the server's: the raw side misses it too";
  if (check.requests) {
    return `not the requests (${first} in both rounds), and the raw side meets it: the server's answers to omnisecret's requests, or this machine's noise`;
  }
  return "omnisecret's: the raw side meets it";
}

function mark(ratio: number): string {
  return `${ratio}x${ratio <= SCALE_TARGETS.roundRatio ? "" : " ✗"}`;
}

function ms4(value: number): string {
  return Number.isFinite(value) ? String(round(value, 4)) : "-";
}

/** `markdown` with the scale section of `previous` (a latest.md) put back in, or replaced by `section`. */
export function withScaleSection(markdown: string, section: string | undefined): string {
  const cut = (text: string) => {
    const start = text.indexOf(SCALE_START);
    const end = text.indexOf(SCALE_END);
    return start >= 0 && end > start
      ? { before: text.slice(0, start), after: text.slice(end + SCALE_END.length).replace(/^\n/, "") }
      : undefined;
  };
  const parts = cut(markdown);
  const base = parts ? `${parts.before}${parts.after}` : markdown;
  if (!section) return base;
  return `${base.replace(/\n*$/, "\n\n")}${section}`;
}

/** The scale section of a latest.md, markers included, or undefined. */
export function scaleSectionOf(markdown: string): string | undefined {
  const start = markdown.indexOf(SCALE_START);
  const end = markdown.indexOf(SCALE_END);
  return start >= 0 && end > start ? `${markdown.slice(start, end + SCALE_END.length)}\n` : undefined;
}
