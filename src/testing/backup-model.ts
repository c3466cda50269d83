/**
 * A model-based randomized test of the backup store (`BackupAdapter`): a primary and a backup,
 * each an adapter of yours wrapped by a fault injector (`withFaults`: a random delay before every
 * call, and outages that make calls fail with `ProviderUnavailableError`, switched on and off by
 * the test, also in the middle of a batch). Random batches of store, get, update and delete on two
 * shared ids are started at once; after each batch, with the outages over, both sides are read
 * directly and checked:
 *
 * - every divergence reported: where the primary and the backup differ, an event of a write
 *   (`backup-write-failed`, `primary-write-failed` that served, `diverged`) named that id;
 * - no acknowledged write lost, no acknowledged delete undone, unless a divergence was reported:
 *   the primary's state, and every outcome (gets included), is what some serial order of the
 *   batch's operations on that id gives (calls that failed as unavailable left no trace);
 * - in one process, no write of an id races another (none finds the primary changed under it);
 *   the acknowledged writes fit a serial order (a store never turns into an
 *   update) unless the backup fell behind or the primary missed a delete; and the combined view
 *   (a get through the store) obeys the contract unless the primary missed a write
 *   (`primary-write-failed` that served, `diverged`): a failed backup delete never brings a
 *   deleted secret back, a failed backup store never loses one.
 *
 * Then the backup is made equal to the primary (what `omnisecret backup --overwrite` does), and
 * the next batch starts from there. Phase one runs one `BackupAdapter`; phase two two of them
 * over the same two sides, as two processes would, where nothing orders their calls and only the
 * reporting can be promised.
 *
 * ```ts
 * import { testBackupStoreModel } from "omnisecret/testing";
 * testBackupStoreModel("my adapter", { createSide: () => new MyAdapter({ prefix: randomPrefix() }) });
 * ```
 *
 * It needs vitest and fast-check; the seed and environment variables are those of
 * `testSecretsAdapterModel` (`OMNISECRET_MODEL_RUNS`, `OMNISECRET_MODEL_SEED`,
 * `OMNISECRET_MODEL_PATH`, `OMNISECRET_MODEL_REPLAY_PATH`).
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { describe, it } from "vitest";
import { BackupAdapter, type BackupEvent } from "../backup-adapter.js";
import type { AnySecretsAdapter, SecretsAdapter, SecretValues } from "../contract.js";
import { isSecretStoreError } from "../errors.js";
import { NO_OPTIONS } from "../legacy-adapter.js";
import { SecretStore } from "../secret-store.js";
import { type FaultyAdapter, withFaults } from "./faults.js";
import { DEFAULT_MODEL_SEED, integerFromEnv, type Outcome, performOn } from "./model.js";

export interface BackupStoreModelOptions {
  /**
   * Builds one side: an adapter over storage of its own (the primary and the backup must not
   * share it). Called twice per run.
   */
  createSide: () => AnySecretsAdapter | Promise<AnySecretsAdapter>;
  /** Runs of each phase; `OMNISECRET_MODEL_RUNS` overrides it. @default 30 */
  runs?: number;
  /** Most batches in one run. @default 6 */
  maxBatches?: number;
  /** Most delay the fault injector puts before a call, in ms. @default 5 */
  maxDelayMs?: number;
  /** Time limit of each phase, shrinking a failure included. @default 120000 */
  timeoutMs?: number;
}

const POOL = 2;

type Kind = "store" | "get" | "update" | "delete";

interface Operation {
  readonly kind: Kind;
  readonly slot: number;
  /** Which of the run's stores (processes) makes the call. */
  readonly process: number;
}

/** A side's outage during a batch: down or up at the start, switched once after `flipAfterMs`. */
interface Outage {
  readonly down: boolean;
  readonly flipAfterMs?: number;
}

interface Batch {
  readonly operations: readonly Operation[];
  readonly primary: Outage;
  readonly backup: Outage;
}

type State = SecretValues | undefined;

function canonical(values: State): string {
  if (values === undefined) return "(missing)";
  return JSON.stringify(Object.entries(values).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** What the contract allows an operation to do to a secret in `state`: its outcome and the next state. */
function step(kind: Kind, state: State, values: State): { outcome: Outcome; next: State } {
  switch (kind) {
    case "get":
      return state === undefined
        ? { outcome: { ok: false, code: "E_SECRET_NOT_FOUND" }, next: state }
        : { outcome: { ok: true, values: state }, next: state };
    case "store":
      return state === undefined
        ? { outcome: { ok: true }, next: values }
        : { outcome: { ok: false, code: "E_SECRET_EXISTS" }, next: state };
    case "update":
      return state === undefined
        ? { outcome: { ok: false, code: "E_SECRET_NOT_FOUND" }, next: state }
        : { outcome: { ok: true }, next: values };
    case "delete":
      return state === undefined
        ? { outcome: { ok: false, code: "E_SECRET_NOT_FOUND" }, next: state }
        : { outcome: { ok: true }, next: undefined };
  }
}

function sameOutcome(allowed: Outcome, observed: Outcome): boolean {
  if (allowed.ok !== observed.ok) return false;
  if (!allowed.ok || !observed.ok) return (allowed as { code: string }).code === (observed as { code: string }).code;
  return allowed.values === undefined || canonical(allowed.values) === canonical(observed.values);
}

interface Done {
  readonly operation: Operation;
  readonly values: State;
  readonly outcome: Outcome;
}

/** Any final state. */
const ANY = Symbol("any state");

/** Whether some serial order of `done` takes `initial` to `final` with exactly their outcomes. */
function serializable(done: readonly Done[], initial: State, final: State | typeof ANY): boolean {
  const visited = new Set<string>();
  const search = (left: number, state: State): boolean => {
    if (left === 0) return final === ANY || canonical(state) === canonical(final);
    const key = `${left}|${canonical(state)}`;
    if (visited.has(key)) return false;
    visited.add(key);
    for (let index = 0; index < done.length; index += 1) {
      if ((left & (1 << index)) === 0) continue;
      const { operation, values, outcome } = done[index] as Done;
      const { outcome: allowed, next } = step(operation.kind, state, values);
      if (sameOutcome(allowed, outcome) && search(left & ~(1 << index), next)) return true;
    }
    return false;
  };
  return search((1 << done.length) - 1, initial);
}

function describeDone({ operation, values, outcome }: Done): string {
  const shown = values === undefined ? "" : ` ${canonical(values)}`;
  const result = outcome.ok ? (outcome.values ? `ok ${canonical(outcome.values)}` : "ok") : outcome.code;
  return `p${operation.process}.${operation.kind}${shown} → ${result}`;
}

/** Divergence reports: write events that say the sides may now differ. */
function reportsDivergence(event: BackupEvent): boolean {
  if (event.kind === "backup-write-failed" || event.kind === "diverged") return true;
  return event.kind === "primary-write-failed" && event.served;
}

/** A write that found the primary changed under it: another write of the id raced it. */
function isRace(event: BackupEvent): boolean {
  return event.kind === "diverged" && event.error.code === "E_SECRET_INTEGRITY";
}

/**
 * Events that excuse the outcomes of writes in one process: the backup fell behind (a store made
 * there alone while the primary is down cannot see the primary's copy), or the primary missed a
 * delete (its copy is back once it answers).
 */
function excusesOutcomes(event: BackupEvent): boolean {
  if (event.kind === "backup-write-failed" || event.kind === "diverged") return true;
  return event.kind === "primary-write-failed" && event.served && event.operation === "delete";
}

/** Events that excuse the combined view in one process: the primary missed a write. */
function excusesView(event: BackupEvent): boolean {
  return event.kind === "diverged" || (event.kind === "primary-write-failed" && event.served);
}

/** What a side (an adapter) or the store holds for `id`. */
async function readSide(side: SecretsAdapter | SecretStore, id: string): Promise<State> {
  try {
    return side instanceof SecretStore
      ? await side.getSecretValues(id)
      : (await side.getSecretValues(id, NO_OPTIONS)).values;
  } catch (error) {
    if (isSecretStoreError(error) && error.code === "E_SECRET_NOT_FOUND") return undefined;
    throw error;
  }
}

/** A small seeded generator for the delays, so a run's timing is mostly repeatable. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Run {
  readonly primary: FaultyAdapter;
  readonly backup: FaultyAdapter;
  readonly stores: readonly SecretStore[];
  readonly events: BackupEvent[];
  readonly ids: readonly string[];
  /** Each slot's state at the start of the next batch (both sides equal). */
  readonly states: State[];
  serial: number;
}

function perform(run: Run, operation: Operation, values: State): Promise<Outcome> {
  const store = run.stores[operation.process] as SecretStore;
  return performOn(store, operation.kind, run.ids[operation.slot] as string, values, operation.kind);
}

function applyOutage(side: FaultyAdapter, outage: Outage, timers: NodeJS.Timeout[]): void {
  side.down = outage.down;
  if (outage.flipAfterMs !== undefined) {
    timers.push(
      setTimeout(() => {
        side.down = !outage.down;
      }, outage.flipAfterMs),
    );
  }
}

class BatchCommand implements fc.AsyncCommand<object, Run> {
  constructor(readonly batch: Batch) {}

  check(): boolean {
    return true;
  }

  async run(_model: object, run: Run): Promise<void> {
    const timers: NodeJS.Timeout[] = [];
    const firstEvent = run.events.length;
    const valuesOf = this.batch.operations.map((operation) => {
      if (operation.kind !== "store" && operation.kind !== "update") return undefined;
      run.serial += 1;
      return { v: String(run.serial) };
    });
    applyOutage(run.primary, this.batch.primary, timers);
    applyOutage(run.backup, this.batch.backup, timers);
    let settled: PromiseSettledResult<Outcome>[];
    try {
      settled = await Promise.allSettled(
        this.batch.operations.map((operation, index) => perform(run, operation, valuesOf[index])),
      );
    } finally {
      for (const timer of timers) clearTimeout(timer);
      run.primary.down = false;
      run.backup.down = false;
    }
    for (const result of settled) if (result.status === "rejected") throw result.reason;
    const outcomes = settled.map((result) => (result as PromiseFulfilledResult<Outcome>).value);
    const events = run.events.slice(firstEvent);
    const oneProcess = run.stores.length === 1;
    const problems: string[] = [];

    for (let slot = 0; slot < POOL; slot += 1) {
      const id = run.ids[slot] as string;
      const onPrimary = await readSide(run.primary.inner, id);
      const onBackup = await readSide(run.backup.inner, id);
      const reported = events.some((event) => event.secretId === id && reportsDivergence(event));
      const initial = run.states[slot];
      // Calls that failed as unavailable left no trace on either side.
      const done: Done[] = this.batch.operations.flatMap((operation, index) => {
        const outcome = outcomes[index] as Outcome;
        if (operation.slot !== slot || (!outcome.ok && outcome.code === "E_PROVIDER_UNAVAILABLE")) return [];
        return [{ operation, values: valuesOf[index], outcome }];
      });
      const story = () =>
        `#${slot} was ${canonical(initial)}; at once: ${done.map(describeDone).join("; ") || "(nothing answered)"}; ` +
        `afterwards primary ${canonical(onPrimary)}, backup ${canonical(onBackup)}; events: ${
          events
            .filter((event) => event.secretId === id)
            .map(
              (event) => `${event.kind}/${event.operation}/${event.error.code}${event.served ? "" : " (not served)"}`,
            )
            .join(", ") || "none"
        }`;
      if (canonical(onPrimary) !== canonical(onBackup) && !reported) {
        problems.push(`unreported divergence: ${story()}`);
      } else if (!reported && !serializable(done, initial, onPrimary)) {
        problems.push(`unreported lost write or undone delete (no serial order gives this): ${story()}`);
      } else if (oneProcess && events.some((event) => event.secretId === id && isRace(event))) {
        // The calls of one process on one id are ordered: no write of it may race another.
        problems.push(`writes of one process raced (the primary changed under a write): ${story()}`);
      } else if (oneProcess) {
        const writes = done.filter((entry) => entry.operation.kind !== "get");
        const excused = (excuse: (event: BackupEvent) => boolean) =>
          events.some((event) => event.secretId === id && excuse(event));
        if (!excused(excusesOutcomes) && !serializable(writes, initial, ANY)) {
          problems.push(`acknowledged writes no serial order allows (a store turned into an update?): ${story()}`);
        } else if (!excused(excusesView)) {
          const view = await readSide(run.stores[0] as SecretStore, id);
          if (!serializable(writes, initial, view)) {
            problems.push(`the store's view ${canonical(view)} breaks the contract: ${story()}`);
          }
        }
      }
      // Repair as `omnisecret backup --overwrite` would: the backup follows the primary.
      if (canonical(onPrimary) !== canonical(onBackup)) {
        if (onPrimary === undefined) await run.backup.inner.deleteSecretValues(id, NO_OPTIONS);
        else if (onBackup === undefined)
          await run.backup.inner.storeSecretValues(id, onPrimary, JSON.stringify(onPrimary), NO_OPTIONS);
        else await run.backup.inner.updateSecretValues(id, onPrimary, JSON.stringify(onPrimary), NO_OPTIONS);
      }
      run.states[slot] = onPrimary;
    }
    if (problems.length > 0) throw new Error(problems.join("\n"));
  }

  toString(): string {
    const outage = (name: string, o: Outage) =>
      o.down || o.flipAfterMs !== undefined
        ? ` ${name} ${o.down ? "down" : "up"}${o.flipAfterMs === undefined ? "" : ` until ${o.flipAfterMs}ms`}`
        : "";
    const operations = this.batch.operations.map((o) => `p${o.process}.${o.kind}(#${o.slot})`).join(", ");
    return `atOnce[${operations}]${outage("primary", this.batch.primary)}${outage("backup", this.batch.backup)}`;
  }
}

const outageArbitrary: fc.Arbitrary<Outage> = fc.oneof(
  { arbitrary: fc.constant({ down: false }), weight: 5 },
  { arbitrary: fc.constant({ down: true }), weight: 1 },
  // Outages that end or begin in the middle of a batch: the calls before and after meet.
  { arbitrary: fc.record({ down: fc.boolean(), flipAfterMs: fc.integer({ min: 0, max: 12 }) }), weight: 4 },
);

function batchArbitrary(processes: number): fc.Arbitrary<Batch> {
  const operation = fc.record({
    kind: fc.constantFrom<Kind>("store", "store", "update", "update", "delete", "delete", "get", "get"),
    slot: fc.nat({ max: POOL - 1 }),
    process: fc.nat({ max: processes - 1 }),
  });
  // Or several writes on one id, so stores, deletes and updates of it meet more often.
  const oneId = fc
    .record({
      slot: fc.nat({ max: POOL - 1 }),
      kinds: fc.array(fc.constantFrom<Kind>("store", "store", "update", "delete"), { minLength: 2, maxLength: 4 }),
      processes: fc.array(fc.nat({ max: processes - 1 }), { minLength: 4, maxLength: 4 }),
    })
    .map(({ slot, kinds, processes: by }) => kinds.map((kind, index) => ({ kind, slot, process: by[index] ?? 0 })));
  return fc.record({
    operations: fc.oneof(
      { arbitrary: fc.array(operation, { minLength: 2, maxLength: 6 }), weight: 3 },
      { arbitrary: oneId, weight: 2 },
    ),
    primary: outageArbitrary,
    backup: outageArbitrary,
  });
}

export function testBackupStoreModel(name: string, options: BackupStoreModelOptions): void {
  const runs = integerFromEnv("OMNISECRET_MODEL_RUNS", 1) ?? options.runs ?? 30;
  const seed = integerFromEnv("OMNISECRET_MODEL_SEED", Number.MIN_SAFE_INTEGER) ?? DEFAULT_MODEL_SEED;
  const path = process.env.OMNISECRET_MODEL_PATH || undefined;
  const replayPath = process.env.OMNISECRET_MODEL_REPLAY_PATH || undefined;
  const maxBatches = options.maxBatches ?? 6;
  const maxDelayMs = options.maxDelayMs ?? 5;
  const timeLimit = options.timeoutMs ?? 120_000;
  const timeout = timeLimit + 30_000;

  const property = (processes: number) =>
    fc.asyncProperty(
      fc.integer(),
      fc.boolean(),
      fc.commands([batchArbitrary(processes).map((batch) => new BatchCommand(batch))], {
        maxCommands: maxBatches,
        size: "max",
        ...(replayPath ? { replayPath } : {}),
      }),
      async (delaySeed, backupSlower, commands) => {
        const random = mulberry32(delaySeed);
        // Sometimes the backup is always the slower side: its writes land after the primary's.
        const primary = withFaults(await options.createSide(), { maxDelayMs, random });
        const backup = withFaults(await options.createSide(), {
          minDelayMs: backupSlower ? maxDelayMs / 2 : 0,
          maxDelayMs,
          random,
        });
        const events: BackupEvent[] = [];
        const stores = Array.from({ length: processes }, () =>
          SecretStore.fromAdapter(
            new BackupAdapter(
              { adapter: primary, provider: primary.provider ?? "primary" },
              { adapter: backup, provider: backup.provider ?? "backup" },
              { onBackupError: (event) => events.push(event) },
            ),
          ),
        );
        const ids = Array.from({ length: POOL }, () => randomUUID()).sort();
        const run: Run = { primary, backup, stores, events, ids, states: [undefined, undefined], serial: 0 };
        try {
          await fc.asyncModelRun(() => ({ model: {}, real: run }), commands);
        } finally {
          primary.down = false;
          backup.down = false;
          for (const id of ids) {
            await primary.inner.deleteSecretValues(id, NO_OPTIONS).catch(() => undefined);
            await backup.inner.deleteSecretValues(id, NO_OPTIONS).catch(() => undefined);
          }
          await primary.inner.close?.();
          await backup.inner.close?.();
        }
      },
    );

  const parameters: fc.Parameters<[number, boolean, Iterable<fc.AsyncCommand<object, Run>>]> = {
    seed,
    numRuns: runs,
    ...(path ? { path } : {}),
    includeErrorInReport: true,
    plugins: [fc.interruptAfterTimeLimit(timeLimit, { failOnInterrupt: true })],
  };

  describe(`backup store model: ${name}`, () => {
    it(`one process: no acknowledged write lost, no delete undone, every divergence reported (seed ${seed}, ${runs} runs)`, {
      timeout,
    }, async () => {
      await fc.assert(property(1), parameters);
    });

    it(`two processes sharing both sides: every divergence reported (seed ${seed}, ${runs} runs)`, {
      timeout,
    }, async () => {
      await fc.assert(property(2), parameters);
    });
  });
}
