/**
 * The model-based tests of versions, added to `testSecretsAdapterModel` by its `versions` option:
 *
 * - sequential: random sequences of store, update, get at a version ("latest", "previous", or a
 *   token recorded earlier, of the current secret or of one deleted since), rollback and delete,
 *   checked step by step against a model that keeps each secret's last `keepVersions` maps, and
 *   `listSecretVersions` checked against the tokens recorded;
 * - concurrent: rounds of racing updates of one secret; afterwards the versions still kept, read
 *   newest first by their tokens, must be the racing writes in some serial order followed by what
 *   the secret held before, so "previous" is the write ordered just before "latest"; a rollback
 *   then makes "previous" current.
 *
 * The token of each version is learnt from `listSecretVersions` right after the write that made
 * it (the current one is listed first).
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { expect, it } from "vitest";
import type { AdapterContext, AnySecretsAdapter, SecretValues } from "../contract.js";
import { isSecretStoreError, type SecretStoreErrorCode } from "../errors.js";
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

export interface VersionsModelOptions {
  readonly createAdapter: (context: AdapterContext) => AnySecretsAdapter | Promise<AnySecretsAdapter>;
  readonly cache?: CacheOptions | undefined;
  readonly keepVersions: number;
}

const POOL = 2;

/** A secret in the model: missing, or its incarnation, how many versions it has had, and the kept maps (oldest first). */
interface SecretModel {
  incarnation: number;
  count: number;
  kept: SecretValues[];
}

/** A token learnt from the store, and which version of which incarnation of its slot it names. */
interface Recorded {
  readonly token: string;
  readonly slot: number;
  readonly incarnation: number;
  readonly ordinal: number;
}

interface Model {
  readonly secrets: (SecretModel | undefined)[];
  readonly tokens: Recorded[];
  incarnations: number;
}

interface Run {
  readonly store: SecretStore;
  readonly ids: readonly string[];
  readonly keep: number;
}

type Outcome = { ok: true; values?: SecretValues } | { ok: false; code: string };

function describeOutcome(outcome: Outcome): string {
  if (!outcome.ok) return outcome.code;
  return outcome.values === undefined ? "ok" : `ok ${canonical(outcome.values)}`;
}

async function attempt(label: string, run: () => Promise<SecretValues | undefined>): Promise<Outcome> {
  try {
    const values = await run();
    return values === undefined ? { ok: true } : { ok: true, values };
  } catch (error) {
    if (!isSecretStoreError(error)) {
      throw new Error(`${label} rejected with an error that is not a SecretStoreError`, { cause: error });
    }
    return { ok: false, code: error.code };
  }
}

function expectOutcome(label: string, observed: Outcome, expected: Outcome): void {
  expect(describeOutcome(observed), label).toBe(describeOutcome(expected));
}

function failure(code: SecretStoreErrorCode): Outcome {
  return { ok: false, code };
}

/** Records the token of the slot's current version, and checks the listed versions against the model. */
async function learnCurrent(model: Model, run: Run, slot: number, label: string): Promise<void> {
  const secret = model.secrets[slot] as SecretModel;
  const versions = await run.store.listSecretVersions(run.ids[slot] as string);
  const current = versions[0];
  expect(current?.current, `${label}: the first version listed is current`).toBe(true);
  expect(
    versions.filter((version) => version.current),
    `${label}: one current version`,
  ).toHaveLength(1);
  const token = (current as { token: string }).token;
  // Tokens name a version of one id: two ids' tokens may be the same string (secrets stored in
  // the same millisecond, where a token's incarnation is a creation time), so each slot keeps its own.
  if (!model.tokens.some((recorded) => recorded.slot === slot && recorded.token === token)) {
    model.tokens.push({ token, slot, incarnation: secret.incarnation, ordinal: secret.count });
  }
  const expected = model.tokens
    .filter(
      (recorded) =>
        recorded.slot === slot &&
        recorded.incarnation === secret.incarnation &&
        recorded.ordinal > secret.count - run.keep,
    )
    .sort((a, b) => b.ordinal - a.ordinal)
    .map((recorded) => recorded.token);
  const readable = versions.filter((version) => version.readable).map((version) => version.token);
  expect(readable, `${label}: the readable versions listed are the kept ones, newest first`).toEqual(expected);
}

type Step =
  | { readonly kind: "store" | "update"; readonly slot: number; readonly spec: ValuesSpec }
  | { readonly kind: "rollback" | "delete"; readonly slot: number }
  | { readonly kind: "get"; readonly slot: number; readonly version: "latest" | "previous" | number };

function describeStep(step: Step): string {
  if (step.kind === "store" || step.kind === "update") return `${step.kind}(#${step.slot}, ${describeSpec(step.spec)})`;
  if (step.kind === "get")
    return `get(#${step.slot}, ${typeof step.version === "number" ? `token ${step.version}` : step.version})`;
  return `${step.kind}(#${step.slot})`;
}

class StepCommand implements fc.AsyncCommand<Model, Run> {
  constructor(readonly step: Step) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, run: Run): Promise<void> {
    const { step } = this;
    const label = describeStep(step);
    const id = run.ids[step.slot] as string;
    const secret = model.secrets[step.slot];
    const store = run.store;
    switch (step.kind) {
      case "store":
      case "update": {
        const values = valuesOf(step.spec, store.maxValueBytes);
        const observed = await attempt(label, async () => {
          if (step.kind === "store") await store.storeSecretValues(id, values);
          else await store.updateSecretValues(id, values);
          return undefined;
        });
        let expected: Outcome = { ok: true };
        if (hasLoneSurrogate(step.spec)) expected = failure("E_INVALID_SECRET_VALUES");
        else if (step.spec.size === "over") expected = failure("E_SECRET_TOO_LARGE");
        else if (step.kind === "store" && secret !== undefined) expected = failure("E_SECRET_EXISTS");
        else if (step.kind === "update" && secret === undefined) expected = failure("E_SECRET_NOT_FOUND");
        expectOutcome(label, observed, expected);
        if (!expected.ok) return;
        if (step.kind === "store") {
          model.incarnations += 1;
          model.secrets[step.slot] = { incarnation: model.incarnations, count: 1, kept: [values] };
        } else this.#push(secret as SecretModel, values, run.keep);
        await learnCurrent(model, run, step.slot, label);
        return;
      }
      case "rollback": {
        const observed = await attempt(label, async () => {
          await store.rollbackSecretValues(id);
          return undefined;
        });
        const previous = secret?.kept[secret.kept.length - 2];
        expectOutcome(label, observed, previous === undefined ? failure("E_SECRET_NOT_FOUND") : { ok: true });
        if (previous === undefined) return;
        this.#push(secret as SecretModel, previous, run.keep);
        await learnCurrent(model, run, step.slot, label);
        return;
      }
      case "delete": {
        const observed = await attempt(label, async () => {
          await store.deleteSecretValues(id);
          return undefined;
        });
        expectOutcome(label, observed, secret === undefined ? failure("E_SECRET_NOT_FOUND") : { ok: true });
        model.secrets[step.slot] = undefined;
        return;
      }
      case "get": {
        let version: string;
        let expected: Outcome;
        if (step.version === "latest" || step.version === "previous") {
          version = step.version;
          const back = step.version === "latest" ? 1 : 2;
          const values = secret?.kept[secret.kept.length - back];
          expected = values === undefined ? failure("E_SECRET_NOT_FOUND") : { ok: true, values };
        } else {
          // A token of this slot, of its current secret or of one deleted since.
          const mine = model.tokens.filter((recorded) => recorded.slot === step.slot);
          const recorded = mine[step.version % Math.max(1, mine.length)];
          if (recorded === undefined) return;
          version = recorded.token;
          const kept =
            secret !== undefined &&
            recorded.incarnation === secret.incarnation &&
            recorded.ordinal > secret.count - run.keep;
          expected = kept
            ? {
                ok: true,
                values: secret.kept[secret.kept.length - 1 - (secret.count - recorded.ordinal)] as SecretValues,
              }
            : failure("E_SECRET_NOT_FOUND");
        }
        const observed = await attempt(label, () => store.getSecretValues(id, { version }));
        expectOutcome(
          `${label} on ${secret === undefined ? "a missing secret" : `version ${secret.count}`}`,
          observed,
          expected,
        );
        return;
      }
    }
  }

  /** A new version in the model: kept, and the oldest beyond keepVersions dropped. */
  #push(secret: SecretModel, values: SecretValues, keep: number): void {
    secret.count += 1;
    secret.kept.push(values);
    if (secret.kept.length > keep) secret.kept.shift();
  }

  toString(): string {
    return describeStep(this.step);
  }
}

const slotArbitrary = fc.nat({ max: POOL - 1 });

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({ kind: fc.constant("store" as const), slot: slotArbitrary, spec: valuesSpecArbitrary }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("update" as const), slot: slotArbitrary, spec: valuesSpecArbitrary }),
    weight: 5,
  },
  { arbitrary: fc.record({ kind: fc.constant("rollback" as const), slot: slotArbitrary }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("delete" as const), slot: slotArbitrary }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant("get" as const),
      slot: slotArbitrary,
      version: fc.oneof(fc.constant("latest" as const), fc.constant("previous" as const), fc.nat({ max: 40 })),
    }),
    weight: 6,
  },
);

async function withRun(options: VersionsModelOptions, body: (run: Run, model: Model) => Promise<void>): Promise<void> {
  const prefix = `mv-${randomUUID().slice(0, 8)}`;
  const store = SecretStore.fromAdapter(await options.createAdapter({ prefix }), { prefix, cache: options.cache });
  const ids = Array.from({ length: POOL }, () => randomUUID());
  try {
    await body(
      { store, ids, keep: options.keepVersions },
      { secrets: ids.map(() => undefined), tokens: [], incarnations: 0 },
    );
  } finally {
    for (const id of ids) await store.deleteSecretValues(id).catch(() => undefined);
    await store.close().catch(() => undefined);
  }
}

/** The versions of `id` still readable, newest first, read one by one through their tokens. */
async function keptHistory(store: SecretStore, id: string): Promise<SecretValues[]> {
  const versions = await store.listSecretVersions(id);
  const kept: SecretValues[] = [];
  for (const version of versions)
    if (version.readable) kept.push(await store.getSecretValues(id, { version: version.token }));
  return kept;
}

/** Defines the two version properties inside the model suite's `describe`. */
export function versionsModelTests(
  options: VersionsModelOptions,
  settings: {
    readonly seed: number;
    readonly runs: number;
    readonly concurrentRuns: number;
    readonly timeout: number;
    readonly parameters: (numRuns: number) => fc.Parameters<[unknown]>;
    readonly replayPath: string | undefined;
  },
): void {
  const keep = options.keepVersions;
  it(`keeps the last ${keep} version(s) over random updates, reads at a version, rollbacks and deletes (seed ${settings.seed}, ${settings.runs} runs)`, {
    timeout: settings.timeout,
  }, async () => {
    const commands = fc.commands([stepArbitrary.map((step) => new StepCommand(step))], {
      maxCommands: 30,
      size: "max",
      ...(settings.replayPath ? { replayPath: settings.replayPath } : {}),
    });
    await fc.assert(
      fc.asyncProperty(commands, async (steps) => {
        await withRun(options, (run, model) => fc.asyncModelRun(() => ({ model, real: run }), steps));
      }),
      settings.parameters(settings.runs),
    );
  });

  it(`after racing updates, the kept versions are the writes in some serial order: "previous" is the write just before "latest" (seed ${settings.seed}, ${settings.concurrentRuns} runs)`, {
    timeout: settings.timeout,
  }, async () => {
    const rounds = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(rounds, async (writers) => {
        await withRun(options, async ({ store, ids }) => {
          const id = ids[0] as string;
          let before: SecretValues = { round: "start" };
          await store.storeSecretValues(id, before);
          let total = 1;
          for (const [round, count] of writers.entries()) {
            const writes = Array.from({ length: count }, (_, writer) => ({
              round: String(round),
              writer: String(writer),
            }));
            await Promise.all(writes.map((values) => store.updateSecretValues(id, values)));
            const history = await keptHistory(store, id);
            const latest = await store.getSecretValues(id);
            const shown = `round ${round}: ${count} racing update(s) of ${canonical(before)}; kept newest first: ${history.map(canonical).join(", ")}`;
            // Newest first: distinct racing writes, then (if kept) the values before the round.
            const expectedLength = Math.min(keep, count + 1);
            total += count;
            expect(history.length, `${shown}: the latest keepVersions of ${total} versions are kept`).toBe(
              Math.min(keep, total),
            );
            expect(canonical(history[0]), `${shown}: the newest kept is the latest`).toBe(canonical(latest));
            const newest = history.slice(0, expectedLength);
            const fromRound = newest.slice(0, Math.min(count, expectedLength));
            expect(new Set(fromRound.map(canonical)).size, `${shown}: each write once`).toBe(fromRound.length);
            for (const values of fromRound) expect(writes.map(canonical), shown).toContain(canonical(values));
            if (count < expectedLength)
              expect(canonical(newest[count]), `${shown}: then the values before`).toBe(canonical(before));
            const previous = await attemptPrevious(store, id);
            if (keep >= 2) {
              expect(canonical(previous), `${shown}: "previous" is the second kept`).toBe(canonical(history[1]));
              await store.rollbackSecretValues(id);
              expect(canonical(await store.getSecretValues(id)), `${shown}: a rollback makes "previous" current`).toBe(
                canonical(previous),
              );
              expect(canonical(await attemptPrevious(store, id))).toBe(canonical(latest));
              total += 1;
              before = previous as SecretValues;
            } else {
              expect(previous, `${shown}: keepVersions 1 keeps no "previous"`).toBeUndefined();
              before = latest;
            }
          }
        });
      }),
      settings.parameters(settings.concurrentRuns),
    );
  });
}

/** The "previous" values, or undefined when there are none. */
async function attemptPrevious(store: SecretStore, id: string): Promise<SecretValues | undefined> {
  try {
    return await store.getSecretValues(id, { version: "previous" });
  } catch (error) {
    if (isSecretStoreError(error) && error.code === "E_SECRET_NOT_FOUND") return undefined;
    throw error;
  }
}
