/**
 * An adapter seen through a proxy that replaces some of its methods and forwards the rest, for
 * tests that count, fail or delay one operation of a real adapter without writing out every
 * other method of the contract by hand.
 */
import type { AnySecretsAdapter, SecretsAdapter } from "../src/contract.js";
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
