/**
 * Custom adapters, as in ZenML's custom secrets store: the configuration names a module whose
 * default export builds the adapter, and passes it plain JSON options.
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as v from "valibot";
import { cacheSchema, circuitBreakerSchema, integer, prefixSchema, telemetrySchema } from "./config-schema.js";
import type { AdapterContext, AnySecretsAdapter, SecretsAdapter, SecretsAdapterFactory } from "./contract.js";
import { ConfigError, ProviderUnavailableError } from "./errors.js";
import { adapterProblems, contractAdapter } from "./legacy-adapter.js";

export const customOptionsSchema = v.strictObject({
  provider: v.literal("custom"),
  prefix: prefixSchema,
  /** The opt-in read cache: `{ ttlMs, maxEntries?, cacheNotFound?, staleIfErrorMs? }`. @default off */
  cache: cacheSchema,
  /** The opt-in circuit breaker: `{ failureThreshold?, openMs? }`. @default off */
  circuitBreaker: circuitBreakerSchema,
  /** OpenTelemetry spans and metrics: `{ enabled?, includeSecretIds? }`. @default `{ enabled: true, includeSecretIds: false }` */
  telemetry: telemetrySchema,
  /**
   * The adapter module: a file path (relative paths resolve against the working directory) or a
   * package name. Its default export is a factory `(options, context) => adapter` (sync or
   * async), or a class constructed with the same arguments. The adapter follows either contract
   * (`SecretsAdapter`, or the earlier `LegacySecretsAdapter`, which is adapted).
   */
  module: v.pipe(v.string(), v.minLength(1)),
  /**
   * Passed to the factory as its first argument.
   * @default {}
   */
  options: v.optional(
    v.pipe(
      // A plain object only: a record schema alone would take an array as an object keyed "0", "1"...
      v.custom<Record<string, unknown>>(
        (value) =>
          typeof value === "object" &&
          value !== null &&
          [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null),
        "must be a plain object",
      ),
      v.record(v.string(), v.unknown()),
    ),
    // A function, so that each config gets an object of its own.
    () => ({}),
  ),
  /**
   * Milliseconds the module's factory may take to build the adapter; a factory that never
   * settles (waiting on a connection, say) then fails `create` with `E_PROVIDER_UNAVAILABLE`
   * instead of hanging it.
   * @default 30000
   */
  createTimeoutMs: v.optional(integer(1), 30_000),
});

export type CustomOptions = v.InferInput<typeof customOptionsSchema>;
export type ResolvedCustomOptions = v.InferOutput<typeof customOptionsSchema>;

function moduleSpecifier(module: string): string {
  const looksLikePath = module.startsWith(".") || isAbsolute(module);
  return looksLikePath ? pathToFileURL(resolve(process.cwd(), module)).href : module;
}

function isClass(candidate: unknown): boolean {
  return typeof candidate === "function" && /^class[\s{]/.test(Function.prototype.toString.call(candidate));
}

export async function createCustomAdapter(
  options: ResolvedCustomOptions,
  context: AdapterContext,
): Promise<SecretsAdapter> {
  let loaded: { default?: unknown };
  try {
    loaded = (await import(moduleSpecifier(options.module))) as { default?: unknown };
  } catch (error) {
    throw new ConfigError(`custom adapter module "${options.module}" could not be loaded`, {
      provider: "custom",
      field: "module",
      cause: error,
    });
  }
  const exported = loaded.default;
  if (typeof exported !== "function") {
    throw new ConfigError(
      `custom adapter module "${options.module}" must have a default export that is a factory function or a class`,
      { provider: "custom", field: "module" },
    );
  }
  const adapter = isClass(exported)
    ? new (exported as new (o: unknown, c: AdapterContext) => AnySecretsAdapter)(options.options, context)
    : await settleWithin(
        (exported as SecretsAdapterFactory)(options.options, context),
        options.createTimeoutMs,
        options.module,
      );
  assertIsAdapter(adapter, options.module);
  return contractAdapter(adapter);
}

async function settleWithin<T>(result: T | Promise<T>, timeoutMs: number, module: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ProviderUnavailableError(undefined, {
            provider: "custom",
            message: `the factory of custom adapter module "${module}" did not finish within ${timeoutMs} ms`,
          }),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([result, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function assertIsAdapter(candidate: unknown, module: string): asserts candidate is AnySecretsAdapter {
  const missing = adapterProblems(candidate);
  if (missing.length > 0) {
    throw new ConfigError(
      `custom adapter module "${module}" built something that is not a SecretsAdapter (missing: ${missing.join(", ")})`,
      { provider: "custom", field: "module" },
    );
  }
}
