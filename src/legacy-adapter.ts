/**
 * Adapters of both contracts behind one: an adapter with `capabilities` follows today's contract
 * (`SecretsAdapter`) and is used as it is; one without follows the earlier one
 * (`LegacySecretsAdapter`, as `examples/directory-adapter.mjs` does) and is wrapped once, so the
 * facade and the backup store only ever call today's.
 */
import type {
  AdapterCapabilities,
  AnySecretsAdapter,
  CallOptions,
  LegacySecretsAdapter,
  ResolvedCapabilities,
  SecretRead,
  SecretsAdapter,
  SecretValues,
} from "./contract.js";

/** The size limit of an adapter that states none: AWS's and GCP's, so its values move to either. */
export const DEFAULT_MAX_VALUE_BYTES = 65_536;

/** Used when an adapter with a batch call states no `maxBatchSize`. */
export const DEFAULT_MAX_BATCH_SIZE = 20;

/** The options of a call that has none: one object, so a call without a signal allocates nothing for them. */
export const NO_OPTIONS: CallOptions = Object.freeze({});

/** The options to hand an adapter for a caller's `signal`: the shared empty object when there is none. */
export function callOptions(signal: AbortSignal | undefined): CallOptions {
  return signal === undefined ? NO_OPTIONS : { signal };
}

export function isContractAdapter(adapter: AnySecretsAdapter): adapter is SecretsAdapter {
  const capabilities = (adapter as { capabilities?: unknown }).capabilities;
  return typeof capabilities === "object" && capabilities !== null;
}

/** The same bridge for the same legacy object, so an adapter given twice is still recognised as one store. */
const bridges = new WeakMap<LegacySecretsAdapter, SecretsAdapter>();

/** The adapter under today's contract: itself, or (an adapter of the earlier contract) its bridge. */
export function contractAdapter(adapter: AnySecretsAdapter): SecretsAdapter {
  if (isContractAdapter(adapter)) return adapter;
  let bridge = bridges.get(adapter);
  if (bridge === undefined) {
    bridge = new LegacyAdapterBridge(adapter);
    bridges.set(adapter, bridge);
  }
  return bridge;
}

export function resolveCapabilities(capabilities: AdapterCapabilities): ResolvedCapabilities {
  return {
    maxValueBytes: capabilities.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
    atomicCreate: capabilities.atomicCreate ?? true,
    conditionalDelete: capabilities.conditionalDelete ?? false,
    batchGet: capabilities.batchGet ?? false,
    maxBatchSize: Math.max(1, capabilities.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE),
    list: capabilities.list ?? false,
    versions: capabilities.versions ?? false,
    revision: capabilities.revision ?? false,
  };
}

const REQUIRED_METHODS = ["storeSecretValues", "getSecretValues", "updateSecretValues", "deleteSecretValues"] as const;

/** The methods each capability promises. */
const CAPABILITY_METHODS = {
  conditionalDelete: ["deleteSecretValuesIfUnchanged"],
  batchGet: ["getManySecretValues"],
  list: ["listSecretIds"],
  versions: ["listSecretVersions", "isVersionToken"],
  revision: ["getSecretRevision"],
} as const;

/** What keeps `candidate` from being an adapter of either contract (empty if nothing does). */
export function adapterProblems(candidate: unknown): string[] {
  if (candidate === null || typeof candidate !== "object") return ["an object"];
  const adapter = candidate as Record<string, unknown>;
  const missing: string[] = REQUIRED_METHODS.filter((name) => typeof adapter[name] !== "function");
  const declared = isContractAdapter(candidate as AnySecretsAdapter)
    ? (adapter.capabilities as Record<string, unknown>)
    : undefined;
  // Optional in both contracts (the facade's default applies), as ZenML's interface has just the four methods.
  const limit = declared ? declared.maxValueBytes : adapter.maxValueBytes;
  if (limit !== undefined && !(typeof limit === "number" && limit > 0)) missing.push("a positive maxValueBytes");
  if (declared) {
    for (const [capability, methods] of Object.entries(CAPABILITY_METHODS)) {
      for (const method of methods) {
        if (declared[capability] === true && typeof adapter[method] !== "function") {
          missing.push(`${method} (capabilities.${capability} is true)`);
        }
      }
    }
  }
  return missing;
}

/**
 * An adapter of the earlier contract under today's: its flags become `capabilities`, its optional
 * methods become capabilities by being there, and a get's map becomes a `SecretRead`. It cannot
 * take a caller's signal: the facade stops waiting for it when the signal aborts. It keeps no
 * versions (the earlier contract has none), so asking it for one is `E_NOT_SUPPORTED`.
 */
class LegacyAdapterBridge implements SecretsAdapter {
  readonly provider: string | undefined;
  readonly capabilities: AdapterCapabilities;
  readonly #inner: LegacySecretsAdapter;

  constructor(inner: LegacySecretsAdapter) {
    this.#inner = inner;
    this.provider = inner.provider;
    this.capabilities = {
      maxValueBytes: inner.maxValueBytes,
      atomicCreate: inner.atomicCreate,
      conditionalDelete: typeof inner.deleteSecretValuesIfUnchanged === "function",
      batchGet: typeof inner.getManySecretValues === "function",
      maxBatchSize: inner.maxBatchSize,
      list: typeof inner.listSecretIds === "function",
    };
  }

  storeSecretValues(id: string, values: SecretValues, serialized: string): Promise<void> {
    return this.#inner.storeSecretValues(id, values, serialized);
  }

  getSecretValues(id: string): Promise<SecretRead> {
    return Promise.resolve(this.#inner.getSecretValues(id)).then(asRead);
  }

  updateSecretValues(id: string, values: SecretValues, serialized: string): Promise<void> {
    return this.#inner.updateSecretValues(id, values, serialized);
  }

  deleteSecretValues(id: string): Promise<void> {
    return this.#inner.deleteSecretValues(id);
  }

  deleteSecretValuesIfUnchanged(id: string, expected: SecretValues): Promise<void> {
    const inner = this.#inner;
    if (!inner.deleteSecretValuesIfUnchanged) throw new Error("the adapter has no deleteSecretValuesIfUnchanged");
    return inner.deleteSecretValuesIfUnchanged(id, expected);
  }

  async getManySecretValues(ids: readonly string[]): Promise<Map<string, SecretRead | Error>> {
    const inner = this.#inner;
    if (!inner.getManySecretValues) throw new Error("the adapter has no getManySecretValues");
    const answers = await inner.getManySecretValues(ids);
    const reads = new Map<string, SecretRead | Error>();
    for (const [id, answer] of answers) reads.set(id, answer instanceof Error ? answer : { values: answer });
    return reads;
  }

  listSecretIds(): AsyncIterable<string> {
    if (!this.#inner.listSecretIds) throw new Error("the adapter has no listSecretIds");
    return this.#inner.listSecretIds();
  }

  close(): Promise<void> | void {
    return this.#inner.close?.();
  }
}

function asRead(values: SecretValues): SecretRead {
  return { values };
}
