/**
 * An adapter seen through a proxy that replaces some of its methods and forwards the rest, for
 * tests that count, fail or delay one operation of a real adapter without writing out every
 * other method of the contract by hand.
 */
import type { AnySecretsAdapter, SecretRead, SecretsAdapter } from "../src/contract.js";
import { contractAdapter } from "../src/legacy-adapter.js";

export function overrideAdapter(
  given: AnySecretsAdapter,
  overrides: (inner: SecretsAdapter) => Partial<SecretsAdapter>,
): SecretsAdapter {
  const inner = contractAdapter(given);
  const replaced: Partial<SecretsAdapter> = overrides(inner);
  return new Proxy(inner, {
    get(target, property) {
      if (Object.hasOwn(replaced, property)) return replaced[property as keyof SecretsAdapter];
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * An adapter whose value reads (get, and the batch get where it has one) first wait for
 * `before`, which the first of them starts and every later one waits on: a change by another
 * client lands, deterministically, after whatever listed the ids and before any of them is read.
 * `before` may be shared by several adapters (it is run once in all: pass the same function).
 */
export function readsAfter(given: AnySecretsAdapter, before: () => Promise<void>): SecretsAdapter {
  return overrideAdapter(given, (inner) => ({
    getSecretValues: async (id, options) => {
      await before();
      return inner.getSecretValues(id, options);
    },
    ...(inner.getManySecretValues && {
      getManySecretValues: async (ids, options) => {
        await before();
        return (inner.getManySecretValues as NonNullable<SecretsAdapter["getManySecretValues"]>)(ids, options);
      },
    }),
  }));
}

/** `work`, run once by its first caller; later callers wait for that run. */
export function once(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= work();
    return running;
  };
}

/** An adapter with a batch read made of its single gets, and what it was asked. */
export interface BatchReads {
  readonly adapter: SecretsAdapter;
  /** The ids of each batch read, in order. */
  readonly batches: string[][];
  /** Single gets (not those a batch made). */
  singleGets: number;
}

/**
 * `given` with a batch read of at most `maxBatchSize` ids, made of its single gets and answering
 * each id on its own (its values, or its get's error) as a provider's batch call does: the facade's
 * batch path on a store that has none.
 */
export function withBatchReads(given: AnySecretsAdapter, maxBatchSize: number): BatchReads {
  const reads = { batches: [] as string[][], singleGets: 0 };
  const adapter = overrideAdapter(given, (inner) => ({
    capabilities: { ...inner.capabilities, batchGet: true, maxBatchSize },
    getSecretValues: (id, options) => {
      reads.singleGets += 1;
      return inner.getSecretValues(id, options);
    },
    getManySecretValues: async (ids, options) => {
      reads.batches.push([...ids]);
      const answers = new Map<string, SecretRead | Error>();
      for (const id of ids) answers.set(id, await inner.getSecretValues(id, options).catch((error: Error) => error));
      return answers;
    },
  }));
  return Object.assign(reads, { adapter });
}
