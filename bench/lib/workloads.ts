/**
 * The workloads, run alternately on omnisecret and on the raw baseline so that machine noise
 * hits both alike. In each round one side runs its four sequential phases (store, get, update,
 * delete of the same fresh ids), then the other side; then the mixed workload, in the opposite
 * order. The side that goes first swaps from round to round, and an even number of rounds gives
 * each side each position equally often. (Swapping the order from phase to phase instead would
 * put one side's gets right after its own stores and the other's after a foreign phase, which
 * on the fast local store biases the result by far more than omnisecret's overhead.) Each side
 * works on its own fresh ids under its own prefix.
 */
import { randomUUID } from "node:crypto";
import { connectionCount, requestCount } from "./counters.js";
import type { Operation } from "./minimums.js";
import type { BenchSide, SecretValues } from "./side.js";

export type SideName = "omnisecret" | "raw";
export type Workload = Operation | "mixed";

export const SEQUENTIAL: readonly Operation[] = ["store", "get", "update", "delete"];
/** One cycle of the mixed workload, on one fresh id: read-heavy, every kind of write once. */
export const MIXED_CYCLE: readonly Operation[] = ["store", "get", "get", "update", "get", "delete"];

export interface Sample {
  readonly ops: number;
  readonly ms: number;
  readonly requests: number;
  /** TCP connections opened during the sample: with keep-alive, none or a few, whatever the operations. */
  readonly connections: number;
  readonly latenciesMs: number[];
  /** CPU time this process used during the sample (user and system), in µs: only one side runs at a time. */
  readonly cpuUs: number;
}

export interface Sides {
  readonly omnisecret: BenchSide;
  readonly raw: BenchSide;
}

const STORED: SecretValues = {
  username: "bench-user",
  password: "Zp4kQ9vN2xW7mR1tB8cY5hJ3gF6dS0aL",
  url: "postgres://db.internal:5432/app",
};
const UPDATED: SecretValues = { ...STORED, password: "Qm7wE2rT9yU4iO1pA6sD3fG8hJ5kL0zX" };

function operate(side: BenchSide, operation: Operation, id: string): Promise<unknown> {
  switch (operation) {
    case "store":
      return side.storeSecretValues(id, STORED);
    case "get":
      return side.getSecretValues(id);
    case "update":
      return side.updateSecretValues(id, UPDATED);
    case "delete":
      return side.deleteSecretValues(id);
  }
}

/** One sequential phase: `operation` on each id in turn, each awaited before the next. */
async function phase(side: BenchSide, operation: Operation, ids: readonly string[]): Promise<Sample> {
  const latenciesMs = new Array<number>(ids.length);
  const requestsBefore = requestCount();
  const connectionsBefore = connectionCount();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < ids.length; i += 1) {
    const opStart = performance.now();
    await operate(side, operation, ids[i] as string);
    latenciesMs[i] = performance.now() - opStart;
  }
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  const connections = connectionCount() - connectionsBefore;
  const cpuUs = cpu.user + cpu.system;
  return { ops: ids.length, ms, requests: requestCount() - requestsBefore, connections, latenciesMs, cpuUs };
}

/** `concurrency` workers, each running `cycles` mixed cycles on fresh ids: that many operations in flight at once. */
async function mixed(side: BenchSide, concurrency: number, cycles: number): Promise<Sample> {
  const latenciesMs: number[] = [];
  const requestsBefore = requestCount();
  const connectionsBefore = connectionCount();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let cycle = 0; cycle < cycles; cycle += 1) {
        const id = randomUUID();
        for (const operation of MIXED_CYCLE) {
          const opStart = performance.now();
          await operate(side, operation, id);
          latenciesMs.push(performance.now() - opStart);
        }
      }
    }),
  );
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  const connections = connectionCount() - connectionsBefore;
  const cpuUs = cpu.user + cpu.system;
  return { ops: latenciesMs.length, ms, requests: requestCount() - requestsBefore, connections, latenciesMs, cpuUs };
}

export type RoundResult = Record<Workload, Record<SideName, Sample>>;

function order(round: number): readonly SideName[] {
  return round % 2 === 0 ? ["omnisecret", "raw"] : ["raw", "omnisecret"];
}

/** One round: each side's four sequential phases on `n` fresh ids, then each side's mixed workload (ABBA). */
export async function runRound(
  sides: Sides,
  options: { round: number; n: number; concurrency: number; cycles: number },
): Promise<RoundResult> {
  const result = Object.fromEntries(
    [...SEQUENTIAL, "mixed"].map((workload) => [workload, {} as Record<SideName, Sample>]),
  ) as RoundResult;
  const [first, second] = order(options.round) as [SideName, SideName];
  for (const side of [first, second]) {
    const ids = Array.from({ length: options.n }, () => randomUUID());
    for (const operation of SEQUENTIAL) result[operation][side] = await phase(sides[side], operation, ids);
  }
  for (const side of [second, first])
    result.mixed[side] = await mixed(sides[side], options.concurrency, options.cycles);
  return result;
}

/**
 * A round of the four sequential workloads with the sides paired operation by operation: store
 * id i on one side, then on the other, the side going first swapping from i to i (and round to
 * round), and so on for get, update and delete. Each side's operations still run one after the
 * other on its own ids; what changes is that load from elsewhere on the machine falls on both
 * sides within the same millisecond rather than the same second. Meant for providers without
 * client-side state that the other side's operations would disturb (a server over the network);
 * not for the local store (see the opening comment). `bench/ops-ratio.ts` runs it with
 * BENCH_PAIRED=1. Mixed is left out (it is concurrent by design): its samples are empty.
 */
export async function runPairedRound(sides: Sides, options: { round: number; n: number }): Promise<RoundResult> {
  const empty = () => ({ ops: 0, ms: 0, requests: 0, connections: 0, latenciesMs: [] as number[], cpuUs: 0 });
  const result = { mixed: { omnisecret: empty(), raw: empty() } } as RoundResult;
  const ids = { omnisecret: newIds(options.n), raw: newIds(options.n) };
  for (const operation of SEQUENTIAL) {
    const samples = { omnisecret: empty(), raw: empty() };
    for (let i = 0; i < options.n; i += 1) {
      for (const side of order(options.round + i)) {
        const sample = samples[side];
        const requestsBefore = requestCount();
        const connectionsBefore = connectionCount();
        const cpuBefore = process.cpuUsage();
        const start = performance.now();
        await operate(sides[side], operation, ids[side][i] as string);
        const ms = performance.now() - start;
        const cpu = process.cpuUsage(cpuBefore);
        sample.ops += 1;
        sample.ms += ms;
        sample.requests += requestCount() - requestsBefore;
        sample.connections += connectionCount() - connectionsBefore;
        sample.latenciesMs.push(ms);
        sample.cpuUs += cpu.user + cpu.system;
      }
    }
    result[operation] = samples;
  }
  return result;
}

function newIds(n: number): string[] {
  return Array.from({ length: n }, () => randomUUID());
}

/** Gets of one id with the read cache warm, each awaited: cached gets per second. */
export async function cachedGets(side: BenchSide, count: number): Promise<{ opsPerSec: number; requests: number }> {
  const id = randomUUID();
  await side.storeSecretValues(id, STORED);
  await side.getSecretValues(id);
  const requestsBefore = requestCount();
  const start = performance.now();
  for (let i = 0; i < count; i += 1) await side.getSecretValues(id);
  const ms = performance.now() - start;
  const requests = requestCount() - requestsBefore;
  await side.deleteSecretValues(id);
  return { opsPerSec: (count / ms) * 1_000, requests };
}

export { STORED as BENCH_VALUES };
