/**
 * Custom adapters, as in ZenML's custom secrets store: the configuration names a module whose
 * default export builds the adapter, and passes it plain JSON options.
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { cacheSchema, prefixSchema } from "./config-schema.js";
import type { AdapterContext, SecretsAdapter, SecretsAdapterFactory } from "./contract.js";
import { ConfigError, ProviderUnavailableError } from "./errors.js";

export const customOptionsSchema = z.strictObject({
  provider: z.literal("custom"),
  prefix: prefixSchema,
  /** The opt-in read cache: `{ ttlMs, maxEntries?, cacheNotFound? }`. @default off */
  cache: cacheSchema,
  /**
   * The adapter module: a file path (relative paths resolve against the working directory) or a
   * package name. Its default export is a factory `(options, context) => adapter` (sync or
   * async), or a class constructed with the same arguments.
   */
  module: z.string().min(1),
  /**
   * Passed to the factory as its first argument.
   * @default {}
   */
  options: z.record(z.string(), z.unknown()).default({}),
  /**
   * Milliseconds the module's factory may take to build the adapter; a factory that never
   * settles (waiting on a connection, say) then fails `create` with `E_PROVIDER_UNAVAILABLE`
   * instead of hanging it.
   * @default 30000
   */
  createTimeoutMs: z.number().int().positive().default(30_000),
});

export type CustomOptions = z.input<typeof customOptionsSchema>;
export type ResolvedCustomOptions = z.output<typeof customOptionsSchema>;

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
    ? new (exported as new (o: unknown, c: AdapterContext) => SecretsAdapter)(options.options, context)
    : await settleWithin(
        (exported as SecretsAdapterFactory)(options.options, context),
        options.createTimeoutMs,
        options.module,
      );
  assertIsAdapter(adapter, options.module);
  return adapter;
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

const REQUIRED_METHODS = ["storeSecretValues", "getSecretValues", "updateSecretValues", "deleteSecretValues"] as const;

function assertIsAdapter(candidate: unknown, module: string): asserts candidate is SecretsAdapter {
  const adapter = candidate as Partial<SecretsAdapter> | null;
  const missing =
    adapter === null || typeof adapter !== "object"
      ? ["an object"]
      : [
          ...REQUIRED_METHODS.filter((name) => typeof adapter[name] !== "function"),
          // Optional (the facade's default applies), as ZenML's interface has just the four methods.
          ...(adapter.maxValueBytes === undefined ||
          (typeof adapter.maxValueBytes === "number" && adapter.maxValueBytes > 0)
            ? []
            : ["a positive maxValueBytes"]),
        ];
  if (missing.length > 0) {
    throw new ConfigError(
      `custom adapter module "${module}" built something that is not a SecretsAdapter (missing: ${missing.join(", ")})`,
      { provider: "custom", field: "module" },
    );
  }
}
