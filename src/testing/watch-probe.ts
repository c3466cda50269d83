/**
 * For the watch tests: an adapter seen through a proxy that counts the ids its reads have
 * answered for (a revision, a get, or each id of a batch get), so a test knows when a watch's
 * poll is done (its baseline taken) without waiting on a clock.
 */
import type { AnySecretsAdapter, SecretsAdapter } from "../contract.js";
import { contractAdapter } from "../legacy-adapter.js";

export interface ReadProbe {
  /** The adapter to build the watching store on. */
  readonly adapter: SecretsAdapter;
  /** Ids answered for so far (a failure counts too: the read is over). */
  readonly answered: () => number;
  /** Resolves once `count` ids have been answered for in all. */
  readonly untilAnswered: (count: number) => Promise<void>;
}

const READS = new Set(["getSecretRevision", "getSecretValues", "getManySecretValues"]);

export function probeReads(given: AnySecretsAdapter): ReadProbe {
  const inner = contractAdapter(given);
  let answered = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const settle = (ids: number) => {
    answered += ids;
    for (const waiter of waiters.filter((candidate) => candidate.count <= answered)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  const adapter = new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== "function") return value;
      if (typeof property !== "string" || !READS.has(property)) return value.bind(target);
      return (...args: unknown[]) => {
        const ids = property === "getManySecretValues" ? (args[0] as readonly string[]).length : 1;
        return Promise.resolve(value.apply(target, args)).finally(() => settle(ids));
      };
    },
  });
  return {
    adapter,
    answered: () => answered,
    untilAnswered: (count) =>
      count <= answered ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve })),
  };
}
