/**
 * Model-based randomized tests: random sequences of store, get, update, delete and list, checked
 * step by step against an in-memory model of the adapter contract, and a concurrent variant that
 * puts several operations on the same ids in flight at once and accepts only outcomes some
 * serial order of them allows. Exported next to the contract suite:
 *
 * ```ts
 * import { testSecretsAdapterModel } from "omnisecret/testing";
 * testSecretsAdapterModel("my adapter", { createAdapter: ({ prefix }) => new MyAdapter({ prefix }) });
 * ```
 *
 * It needs vitest and fast-check. The seed is fixed, so a test run is repeatable; on failure
 * fast-check's report (the seed, the replay path and the shrunk sequence of operations) is the
 * test's error message. Environment variables:
 * - `OMNISECRET_MODEL_RUNS=500`: that many runs of each property instead of the defaults.
 * - `OMNISECRET_MODEL_SEED=<n>`: another seed; the seed of a report replays it.
 * - `OMNISECRET_MODEL_PATH=<path>` and `OMNISECRET_MODEL_REPLAY_PATH=<replayPath>`: with the
 *   seed, replay the shrunk counterexample of a report at once (its `path`, and the `replayPath`
 *   after the counterexample). Select its test with `vitest -t`: the paths fit that property only.
 *
 * Each run builds an adapter with a fresh prefix, uses fresh random UUIDs and deletes what it
 * stored, so runs against a shared server never see each other and leave nothing behind.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AdapterContext, AnySecretsAdapter, SecretValues } from "../contract.js";
import { isSecretStoreError, type SecretStoreErrorCode } from "../errors.js";
import { contractAdapter, resolveCapabilities } from "../legacy-adapter.js";
import type { CacheOptions } from "../read-cache.js";
import { SecretStore } from "../secret-store.js";
import {
  canonical,
  describeSpec,
  hasLoneSurrogate,
  type ValuesSpec,
  valuesOf,
  valuesSpecArbitrary,
} from "./model-values.js";
import { versionsModelTests } from "./versions-model.js";

export interface SecretsAdapterModelOptions {
  /** Builds a fresh adapter for one run. Put `context.prefix` in front of the names it uses. */
  /** Builds a fresh adapter (either contract) for one run. */
  createAdapter: (context: AdapterContext) => AnySecretsAdapter | Promise<AnySecretsAdapter>;
  /** Runs the model with the read cache on, with these options. @default off */
  cache?: CacheOptions;
  /** Runs of the sequential model; `OMNISECRET_MODEL_RUNS` overrides it. @default 40 */
  runs?: number;
  /** Runs of the concurrent variant; `OMNISECRET_MODEL_RUNS` overrides it. @default 20 */
  concurrentRuns?: number;
  /** Most operations in one run of the sequential model. @default 30 */
  maxOperations?: number;
  /** Most batches of operations started at once in one run of the concurrent variant. @default 8 */
  maxBatches?: number;
  /** Time limit of each property, shrinking a failure included. @default 120000 */
  timeoutMs?: number;
  /**
   * Adds the version properties (`versions-model.ts`), for an adapter with `capabilities.versions`
   * built with this `keepVersions` (pass the adapter's own setting): a model that keeps the last
   * `keepVersions` maps over random updates, reads at a version, rollbacks and deletes, and racing
   * updates whose kept versions must follow some serial order.
   * @default off
   */
  versions?: { readonly keepVersions: number };
}

/** The seed of every run unless `OMNISECRET_MODEL_SEED` names another, so `npm test` is repeatable. */
export const DEFAULT_MODEL_SEED = 12_062_024;

const SEQUENTIAL_POOL = 3;
// Two ids in the concurrent variant, so most batches put several operations on one id.
const CONCURRENT_POOL = 2;

// ---------------------------------------------------------------------------------------------
// The model of the contract

type OperationKind = "store" | "get" | "update" | "delete";

interface Operation {
  readonly kind: OperationKind;
  /** Index into the run's pool of ids. */
  readonly slot: number;
  /** The values of a store or update. */
  readonly spec?: ValuesSpec;
}

/** What an operation did: succeeded (a get with the values it read) or failed with a code. */
/** What one operation did: its values for a get, or the code it failed with. */
export type Outcome =
  | { readonly ok: true; readonly values?: SecretValues }
  | { readonly ok: false; readonly code: string };

/** A secret's state: its values, or undefined for missing. */
type State = SecretValues | undefined;

/** Every (outcome, next state) the contract allows for one operation on a secret in `state`. */
function allowedSteps(
  operation: Operation,
  state: State,
  maxValueBytes: number,
): Array<{ outcome: Outcome; next: State }> {
  const steps: Array<{ outcome: Outcome; next: State }> = [];
  const fail = (code: SecretStoreErrorCode) => steps.push({ outcome: { ok: false, code }, next: state });
  const spec = operation.spec;
  // The facade refuses them before anything else, since not every provider can keep them.
  if (spec && hasLoneSurrogate(spec)) {
    fail("E_INVALID_SECRET_VALUES");
    return steps;
  }
  switch (operation.kind) {
    case "get":
      if (state === undefined) fail("E_SECRET_NOT_FOUND");
      else steps.push({ outcome: { ok: true, values: state }, next: state });
      break;
    case "delete":
      if (state === undefined) fail("E_SECRET_NOT_FOUND");
      else steps.push({ outcome: { ok: true }, next: undefined });
      break;
    case "store":
    case "update": {
      const values = valuesOf(spec as ValuesSpec, maxValueBytes);
      // The facade checks the size before it asks the adapter whether the id exists.
      if (spec?.size === "over") fail("E_SECRET_TOO_LARGE");
      else if (operation.kind === "store" && state !== undefined) fail("E_SECRET_EXISTS");
      else if (operation.kind === "update" && state === undefined) fail("E_SECRET_NOT_FOUND");
      else steps.push({ outcome: { ok: true }, next: values });
      break;
    }
  }
  return steps;
}

function sameOutcome(allowed: Outcome, observed: Outcome): boolean {
  if (allowed.ok !== observed.ok) return false;
  if (!allowed.ok || !observed.ok) return (allowed as { code: string }).code === (observed as { code: string }).code;
  return allowed.values === undefined || canonical(allowed.values) === canonical(observed.values);
}

function describeOutcome(outcome: Outcome): string {
  if (!outcome.ok) return outcome.code;
  return outcome.values === undefined ? "ok" : `ok ${canonical(outcome.values)}`;
}

function describeOperation(operation: Operation): string {
  const spec = operation.spec ? `, ${describeSpec(operation.spec)}` : "";
  return `${operation.kind}(#${operation.slot}${spec})`;
}

/**
 * Runs an operation through the facade and records what it did. A rejection that is not a
 * `SecretStoreError` fails at once: every failure must be typed.
 */
async function perform(store: SecretStore, ids: readonly string[], operation: Operation): Promise<Outcome> {
  const values = operation.spec ? valuesOf(operation.spec, store.maxValueBytes) : undefined;
  return performOn(store, operation.kind, ids[operation.slot] as string, values, describeOperation(operation));
}

/** One store, get, update or delete of `id` through the facade, as an `Outcome` (shared with the backup-store model). */
export async function performOn(
  store: SecretStore,
  kind: "store" | "get" | "update" | "delete",
  id: string,
  values: SecretValues | undefined,
  label: string,
): Promise<Outcome> {
  try {
    switch (kind) {
      case "get":
        return { ok: true, values: await store.getSecretValues(id) };
      case "store":
        await store.storeSecretValues(id, values as SecretValues);
        return { ok: true };
      case "update":
        await store.updateSecretValues(id, values as SecretValues);
        return { ok: true };
      case "delete":
        await store.deleteSecretValues(id);
        return { ok: true };
    }
  } catch (error) {
    if (!isSecretStoreError(error)) {
      throw new Error(`${label} rejected with an error that is not a SecretStoreError`, { cause: error });
    }
    return { ok: false, code: error.code };
  }
}

function expectListed(listed: readonly string[], expected: readonly string[], message: string): void {
  expect(JSON.stringify(listed), message).toBe(JSON.stringify(expected));
}

async function listIds(store: SecretStore): Promise<string[]> {
  const listed: string[] = [];
  for await (const id of store.listSecretIds()) listed.push(id);
  return listed.sort();
}

// ---------------------------------------------------------------------------------------------
// One run: a store on a fresh prefix, a pool of fresh ids, and cleanup afterwards

interface Run {
  readonly store: SecretStore;
  readonly ids: readonly string[];
  readonly atomicCreate: boolean;
  readonly canList: boolean;
}

/** The model: each slot's state. */
interface Model {
  readonly secrets: State[];
}

async function withRun(
  options: SecretsAdapterModelOptions,
  poolSize: number,
  body: (run: Run, model: Model) => Promise<void>,
): Promise<void> {
  const prefix = `mt-${randomUUID().slice(0, 8)}`;
  const adapter = await options.createAdapter({ prefix });
  const store = SecretStore.fromAdapter(adapter, { prefix, cache: options.cache });
  const capabilities = resolveCapabilities(contractAdapter(adapter).capabilities);
  const ids = Array.from({ length: poolSize }, () => randomUUID()).sort();
  const run: Run = {
    store,
    ids,
    atomicCreate: capabilities.atomicCreate,
    canList: capabilities.list,
  };
  try {
    await body(run, { secrets: Array.from({ length: poolSize }, () => undefined) });
  } finally {
    // Whatever the run left, including after a failure, so a shared server does not fill up.
    for (const id of ids) await store.deleteSecretValues(id).catch(() => undefined);
    await store.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// The sequential model

class OperationCommand implements fc.AsyncCommand<Model, Run> {
  constructor(readonly operation: Operation) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, run: Run): Promise<void> {
    const { slot } = this.operation;
    const before = model.secrets[slot];
    const observed = await perform(run.store, run.ids, this.operation);
    const steps = allowedSteps(this.operation, before, run.store.maxValueBytes);
    const step = steps.find((candidate) => sameOutcome(candidate.outcome, observed));
    if (step === undefined) {
      // The first allowed outcome, with a diff against what happened.
      expect(
        describeOutcome(observed),
        `${this.toString()} on a secret that is ${canonical(before)}: expected ${steps.map((s) => describeOutcome(s.outcome)).join(" or ")}`,
      ).toBe(describeOutcome((steps[0] as { outcome: Outcome }).outcome));
      return;
    }
    model.secrets[slot] = step.next;
  }

  toString(): string {
    return describeOperation(this.operation);
  }
}

class ListCommand implements fc.AsyncCommand<Model, Run> {
  check(): boolean {
    return true;
  }

  async run(model: Model, run: Run): Promise<void> {
    if (!run.canList) return;
    const expected = run.ids.filter((_, slot) => model.secrets[slot] !== undefined);
    expectListed(await listIds(run.store), expected, "list must yield exactly the stored ids, each once");
  }

  toString(): string {
    return "list()";
  }
}

function operationArbitrary(kinds: readonly OperationKind[], poolSize: number): fc.Arbitrary<Operation> {
  return fc
    .record({
      kind: fc.constantFrom(...kinds),
      slot: fc.nat({ max: poolSize - 1 }),
      spec: valuesSpecArbitrary,
    })
    .map(({ kind, slot, spec }) => (kind === "store" || kind === "update" ? { kind, slot, spec } : { kind, slot }));
}

const sequentialCommands = (maxCommands: number, replayPath: string | undefined) =>
  fc.commands(
    [
      operationArbitrary(["store", "store", "get", "get", "update", "update", "delete"], SEQUENTIAL_POOL).map(
        (operation) => new OperationCommand(operation),
      ),
      fc.constant(new ListCommand()),
    ],
    { maxCommands, size: "max", ...(replayPath ? { replayPath } : {}) },
  );

// ---------------------------------------------------------------------------------------------
// The concurrent variant

/**
 * Whether some serial order of `operations` (all on one secret, started at once) takes the
 * secret from `initial` to `final` with exactly the `observed` outcomes.
 *
 * Without an atomic create, a store that succeeded is two steps, a check that the secret is
 * missing and a later unconditional write, and other operations may come between them; a store
 * that got E_SECRET_EXISTS is its check alone.
 */
function isSerializable(
  operations: readonly Operation[],
  observed: readonly Outcome[],
  initial: State,
  final: State,
  maxValueBytes: number,
  atomicCreate: boolean,
): boolean {
  const splitStore = operations.map(
    (operation, index) => !atomicCreate && operation.kind === "store" && (observed[index] as Outcome).ok,
  );
  // Per operation: 0 not started, 1 checked (split stores only), 2 done.
  const visited = new Set<string>();
  const search = (progress: number[], state: State): boolean => {
    if (progress.every((stage) => stage === 2)) return canonical(state) === canonical(final);
    const key = `${progress.join("")}|${canonical(state)}`;
    if (visited.has(key)) return false;
    visited.add(key);
    for (let index = 0; index < operations.length; index += 1) {
      const operation = operations[index] as Operation;
      const stage = progress[index] as number;
      if (stage === 2) continue;
      const next = [...progress];
      if (splitStore[index]) {
        if (stage === 0) {
          // The check: the secret must be missing now.
          if (state !== undefined) continue;
          next[index] = 1;
          if (search(next, state)) return true;
        } else {
          next[index] = 2;
          if (search(next, valuesOf(operation.spec as ValuesSpec, maxValueBytes))) return true;
        }
        continue;
      }
      for (const step of allowedSteps(operation, state, maxValueBytes)) {
        if (!sameOutcome(step.outcome, observed[index] as Outcome)) continue;
        next[index] = 2;
        if (search(next, step.next)) return true;
      }
    }
    return false;
  };
  return search(
    operations.map(() => 0),
    initial,
  );
}

class BatchCommand implements fc.AsyncCommand<Model, Run> {
  constructor(readonly operations: readonly Operation[]) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, run: Run): Promise<void> {
    const settled = await Promise.allSettled(
      this.operations.map((operation) => perform(run.store, run.ids, operation)),
    );
    // perform rejects only for an untyped error: that fails the run as it is.
    for (const result of settled) if (result.status === "rejected") throw result.reason;
    const observed = settled.map((result) => (result as PromiseFulfilledResult<Outcome>).value);
    const problems: string[] = [];
    for (let slot = 0; slot < run.ids.length; slot += 1) {
      const indexes = this.operations.flatMap((operation, index) => (operation.slot === slot ? [index] : []));
      const finalRead = await perform(run.store, run.ids, { kind: "get", slot });
      if (!finalRead.ok && finalRead.code !== "E_SECRET_NOT_FOUND") {
        problems.push(`#${slot}: the get after the batch failed with ${finalRead.code}`);
        continue;
      }
      const final = finalRead.ok ? finalRead.values : undefined;
      const initial = model.secrets[slot];
      const operations = indexes.map((index) => this.operations[index] as Operation);
      const outcomes = indexes.map((index) => observed[index] as Outcome);
      if (!isSerializable(operations, outcomes, initial, final, run.store.maxValueBytes, run.atomicCreate)) {
        const happened = operations.map(
          (operation, i) => `${describeOperation(operation)} → ${describeOutcome(outcomes[i] as Outcome)}`,
        );
        problems.push(
          `#${slot} was ${canonical(initial)}; at once: ${happened.join("; ")}; afterwards ${canonical(final)}. ` +
            `No serial order of these operations gives that${run.atomicCreate ? "" : " (stores not atomic)"}.`,
        );
      }
      model.secrets[slot] = final;
    }
    if (problems.length > 0) {
      throw new Error(`outcomes of concurrent operations that no serial order allows:\n${problems.join("\n")}`);
    }
    if (run.canList) {
      const expected = run.ids.filter((_, slot) => model.secrets[slot] !== undefined);
      expectListed(await listIds(run.store), expected, "list after the batch must yield exactly the stored ids");
    }
  }

  toString(): string {
    return `atOnce[${this.operations.map(describeOperation).join(", ")}]`;
  }
}

/** Random batches, and batches of one kind on one id (several stores, deletes or updates racing). */
const batchArbitrary: fc.Arbitrary<readonly Operation[]> = fc.oneof(
  fc.array(operationArbitrary(["store", "store", "update", "delete", "delete", "get"], CONCURRENT_POOL), {
    minLength: 2,
    maxLength: 6,
  }),
  fc
    .record({
      kind: fc.constantFrom<OperationKind>("store", "update", "delete"),
      slot: fc.nat({ max: CONCURRENT_POOL - 1 }),
      specs: fc.array(valuesSpecArbitrary, { minLength: 2, maxLength: 5 }),
    })
    .map(({ kind, slot, specs }) => specs.map((spec) => (kind === "delete" ? { kind, slot } : { kind, slot, spec }))),
);

const concurrentCommands = (maxCommands: number, replayPath: string | undefined) =>
  fc.commands([batchArbitrary.map((operations) => new BatchCommand(operations))], {
    maxCommands,
    size: "max",
    ...(replayPath ? { replayPath } : {}),
  });

// ---------------------------------------------------------------------------------------------
// The suite

/** An integer setting of the model suites from the environment (`OMNISECRET_MODEL_RUNS`, `_SEED`). */
export function integerFromEnv(name: string, minimum: number): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw new Error(`${name} must be an integer of at least ${minimum} (got ${JSON.stringify(text)})`);
  }
  return value;
}

export function testSecretsAdapterModel(name: string, options: SecretsAdapterModelOptions): void {
  const runsFromEnv = integerFromEnv("OMNISECRET_MODEL_RUNS", 1);
  const seed = integerFromEnv("OMNISECRET_MODEL_SEED", Number.MIN_SAFE_INTEGER) ?? DEFAULT_MODEL_SEED;
  const path = process.env.OMNISECRET_MODEL_PATH || undefined;
  const replayPath = process.env.OMNISECRET_MODEL_REPLAY_PATH || undefined;
  const runs = runsFromEnv ?? options.runs ?? 40;
  const concurrentRuns = runsFromEnv ?? options.concurrentRuns ?? 20;
  const timeLimit = options.timeoutMs ?? 120_000;
  // fast-check stops (and reports what it has) before vitest's timeout would hide its report.
  const timeout = timeLimit + 30_000;

  const parameters = (numRuns: number): fc.Parameters<[unknown]> => ({
    seed,
    numRuns,
    ...(path ? { path } : {}),
    // The failing assertion's message in the report itself, next to seed, path and counterexample.
    includeErrorInReport: true,
    plugins: [fc.interruptAfterTimeLimit(timeLimit, { failOnInterrupt: true })],
  });

  describe(`SecretsAdapter model: ${name}${options.cache ? " (read cache on)" : ""}`, () => {
    it(`follows the contract's model over random operations (seed ${seed}, ${runs} runs)`, { timeout }, async () => {
      await fc.assert(
        fc.asyncProperty(sequentialCommands(options.maxOperations ?? 30, replayPath), async (commands) => {
          await withRun(options, SEQUENTIAL_POOL, (run, model) =>
            fc.asyncModelRun(() => ({ model, real: run }), commands),
          );
        }),
        parameters(runs),
      );
    });

    it(`settles concurrent operations on the same ids as some serial order would (seed ${seed}, ${concurrentRuns} runs)`, {
      timeout,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(concurrentCommands(options.maxBatches ?? 8, replayPath), async (commands) => {
          await withRun(options, CONCURRENT_POOL, (run, model) =>
            fc.asyncModelRun(() => ({ model, real: run }), commands),
          );
        }),
        parameters(concurrentRuns),
      );
    });

    if (options.versions) {
      versionsModelTests(
        { createAdapter: options.createAdapter, cache: options.cache, keepVersions: options.versions.keepVersions },
        { seed, runs, concurrentRuns, timeout, parameters, replayPath },
      );
    }
  });
}
