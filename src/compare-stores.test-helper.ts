/** Two stores seeded with one difference of each kind, and comparisons raced by other clients, for the tests of compareStores and `diff`. */
import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { once, readsAfter } from "../test-support/adapter-overrides.js";
import { type CompareProgress, compareStores } from "./compare-stores.js";
import type { AnySecretsAdapter } from "./contract.js";
import { SecretStore } from "./secret-store.js";
import { markedSecretValue } from "./testing/index.js";

/**
 * Two stores holding the same secrets but for one of each kind of difference; returns the ids,
 * every value written (so that a test can check none of them shows), and the lines `diff` prints
 * for them, sorted.
 */
export async function seeded(from: SecretStore, to: SecretStore) {
  const values: string[] = [];
  const value = (text = markedSecretValue()) => {
    values.push(text);
    return text;
  };
  const ids = {
    same: randomUUID(),
    unicode: randomUUID(),
    changed: randomUUID(),
    keyAdded: randomUUID(),
    keyRemoved: randomUUID(),
    normalization: randomUUID(),
    onlyInFrom: randomUUID(),
    onlyInTo: randomUUID(),
  };
  const same = { user: value(), password: value() };
  await from.storeSecretValues(ids.same, same);
  await to.storeSecretValues(ids.same, { password: same.password, user: same.user }); // other key order: same
  const unicode = { "clé 🔑": value(`${markedSecretValue()} 日本語 🎉\n`), ключ: value(`${markedSecretValue()}é`) };
  await from.storeSecretValues(ids.unicode, unicode);
  await to.storeSecretValues(ids.unicode, unicode);
  const shared = value();
  await from.storeSecretValues(ids.changed, { user: shared, password: value() });
  await to.storeSecretValues(ids.changed, { user: shared, password: value() });
  await from.storeSecretValues(ids.keyAdded, { user: shared });
  await to.storeSecretValues(ids.keyAdded, { user: shared, extra: value() });
  await from.storeSecretValues(ids.keyRemoved, { user: shared, gone: value() });
  await to.storeSecretValues(ids.keyRemoved, { user: shared });
  // The same text composed and decomposed: different bytes, so different values.
  await from.storeSecretValues(ids.normalization, { name: value(`${markedSecretValue()}\u00e9`) });
  await to.storeSecretValues(ids.normalization, { name: value(`${values.at(-1)?.slice(0, -1)}e\u0301`) });
  await from.storeSecretValues(ids.onlyInFrom, { only: value() });
  await to.storeSecretValues(ids.onlyInTo, { only: value() });
  const diffLines = [
    `differs ${ids.changed}: changed "password"`,
    `differs ${ids.keyAdded}: only in to "extra"`,
    `differs ${ids.keyRemoved}: only in from "gone"`,
    `differs ${ids.normalization}: changed "name"`,
    `only-in-from ${ids.onlyInFrom}`,
    `only-in-to ${ids.onlyInTo}`,
    "not identical: 8 secrets, same 2, differs 4, only in from 1, only in to 1, errors 0",
  ].sort();
  return { ids, values, diffLines };
}

/** Fails if `text` holds any of `values`, raw or JSON-escaped, or anything `markedSecretValue` made. */
export function expectNoValueIn(text: string, values: readonly string[]): void {
  for (const value of values) {
    expect(text).not.toContain(value);
    expect(text).not.toContain(JSON.stringify(value).slice(1, -1));
  }
  expect(text).not.toMatch(/s3cr3t-/);
}

/** One side of a raced comparison. */
export interface RaceSide {
  /** The adapter the compared store is built on (a fresh one: its reads are held back). */
  readonly adapter: AnySecretsAdapter;
  /** `SecretStore.fromAdapter`'s options for it. */
  readonly options?: Parameters<typeof SecretStore.fromAdapter>[1];
  /** Another client of the same place, as another process would be: it makes the changes. */
  readonly other: SecretStore;
}

/**
 * compareStores between two places while other clients change them after both lists and before
 * any read (held back deterministically, no clock): a secret deleted on one side is only in the
 * other, never `same` and never a failure; deleted on both, it is left out (no store holds it, as
 * for an `ids` entry neither holds); updated, its new values are compared; created after the
 * lists, it is not in this run. Expects exactly that, then a second run after the races.
 */
export async function expectComparisonThroughRaces(from: RaceSide, to: RaceSide): Promise<void> {
  const ids = {
    same: randomUUID(),
    goneFromTo: randomUUID(),
    goneFromFrom: randomUUID(),
    goneFromBoth: randomUUID(),
    changedInTo: randomUUID(),
    late: randomUUID(),
  };
  for (const id of [ids.same, ids.goneFromTo, ids.goneFromFrom, ids.goneFromBoth, ids.changedInTo]) {
    await from.other.storeSecretValues(id, { id });
    await to.other.storeSecretValues(id, { id });
  }
  const races = once(async () => {
    await to.other.deleteSecretValues(ids.goneFromTo);
    await from.other.deleteSecretValues(ids.goneFromFrom);
    await from.other.deleteSecretValues(ids.goneFromBoth);
    await to.other.deleteSecretValues(ids.goneFromBoth);
    await to.other.updateSecretValues(ids.changedInTo, { id: "changed" });
    await from.other.storeSecretValues(ids.late, { id: ids.late });
    await to.other.storeSecretValues(ids.late, { id: ids.late });
  });
  const [fromStore, toStore] = [from, to].map((side) =>
    SecretStore.fromAdapter(readsAfter(side.adapter, races), side.options),
  ) as [SecretStore, SecretStore];
  const progress: CompareProgress[] = [];
  const summary = await compareStores(fromStore, toStore, { onProgress: (p) => progress.push(p) });
  expect(Object.fromEntries(summary.entries.map((entry) => [entry.id, entry.status]))).toEqual({
    [ids.same]: "same",
    [ids.goneFromTo]: "only-in-from",
    [ids.goneFromFrom]: "only-in-to",
    [ids.changedInTo]: "differs",
  });
  expect(summary).toMatchObject({ same: 1, differs: 1, onlyInFrom: 1, onlyInTo: 1, errors: 0, identical: false });
  expect(progress.at(-1)).toEqual({ total: 4, done: 4, same: 1, different: 3, failed: 0 });

  // The races over and the differences repaired: identical, the late secret compared this time.
  await from.other.deleteSecretValues(ids.goneFromTo);
  await from.other.storeSecretValues(ids.goneFromFrom, { id: ids.goneFromFrom });
  await from.other.updateSecretValues(ids.changedInTo, { id: "changed" });
  const after = await compareStores(fromStore, toStore);
  expect(after).toMatchObject({ same: 4, identical: true });
  expect(after.entries.map((entry) => entry.id).sort()).toEqual(
    [ids.same, ids.goneFromFrom, ids.changedInTo, ids.late].sort(),
  );
}
