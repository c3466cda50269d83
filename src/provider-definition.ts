/**
 * What a provider is, in one object that its adapter folder exports from `provider.ts`: its
 * name, the environment variables of its options, the npm packages its adapter needs, and lazy
 * loaders of its options schema and of its adapter. The core lists these definitions
 * (`src/providers.ts`) and derives everything else from them: the config type, the env mapping,
 * the "install X" message and the provider names the CLI offers.
 *
 * A definition module must stay light: it is loaded for every provider whenever omnisecret is,
 * so it imports no schema library and no SDK; those come through the loaders.
 */
import type * as v from "valibot";
import type { SecretsAdapterFactory } from "./contract.js";
import type { EnvField } from "./env-fields.js";

/** An options schema: validates a whole config object of one provider, `provider` and `prefix` included. */
export type OptionsSchema = v.GenericSchema<unknown, { provider: string; prefix: string }>;

export interface ProviderDefinition<Schema extends OptionsSchema = OptionsSchema> {
  /** The value of `provider` in a config that selects this provider. */
  readonly name: string;
  /** Option fields that can come from environment variables (see the README's configuration section). */
  readonly envFields: readonly EnvField[];
  /**
   * The config fields whose values are secret (credentials, keys, tokens, opaque options, injected
   * clients): `redactConfig` replaces each whole, whatever it holds, so nested parts and objects
   * built in code are hidden too. Every environment field marked `secret` lies in one of them.
   */
  readonly secretFields: readonly string[];
  /** npm packages the adapter imports besides omnisecret's own dependencies; named in the error when one is missing. */
  readonly sdkPackages: readonly string[];
  /** Loads the options schema; called only for the provider a config selects. */
  readonly loadOptionsSchema: () => Promise<Schema>;
  /** Loads the adapter factory, and through it the SDK; the factory takes what the options schema gives. */
  readonly loadAdapter: () => Promise<SecretsAdapterFactory<v.InferOutput<Schema>>>;
  /**
   * Where a resolved config's secrets live (a region, a project, a server and mount, a file), as
   * a list of comparable parts: two configs of this provider with equal locations share one
   * failure domain, so a `backup` there is refused. The prefix is not part of it: another prefix
   * in the same place fails together with the primary. Absent: every store is a place of its own
   * (the memory store).
   */
  location?(config: v.InferOutput<Schema>): readonly unknown[] | Promise<readonly unknown[]>;
  /** The config fields `location` reads, named when a backup at the primary's own place is refused. */
  readonly locationFields?: readonly string[];
  /**
   * Whether the store runs inside the application's process (a file, memory): nothing to start,
   * so its test side has no server, and `npm run bench` gives it more operations (it is fast).
   * @default false
   */
  readonly embedded?: boolean;
  /**
   * Whether `npm run bench` compares it with the plain SDK (its test side's `loadBenchRaw`). False
   * where there is no SDK to compare with (the memory store).
   * @default true
   */
  readonly benchBaseline?: boolean;
  /**
   * Whether what the store holds outlives the process. A copy that deletes its sources refuses a
   * target that is not durable (the copies would die with the process).
   * @default true
   */
  readonly durable?: boolean;
}

/** Host names that all mean this machine: a URL naming one is compared as naming any other. */
const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1|\[::ffff:127(?:\.\d{1,3}){3}\]|0\.0\.0\.0)$/i;

/** A host name in a comparable spelling: lowercased, and every loopback name as one. */
export function comparableHost(value: unknown): unknown {
  if (typeof value !== "string") return value;
  return LOOPBACK_HOST.test(value.trim()) ? "loopback" : value.trim().toLowerCase();
}

/**
 * A URL in a comparable spelling (host lowercased, loopback names as one, default port and
 * trailing slashes dropped); anything else as it is.
 */
export function comparableUrl(value: unknown): unknown {
  if (typeof value !== "string" || !URL.canParse(value)) return value;
  const url = new URL(value);
  if (LOOPBACK_HOST.test(url.hostname)) url.hostname = "loopback";
  return url.href.replace(/\/+$/, "");
}

/** Identity function that keeps a definition's schema type, so the config union can be derived from it. */
export function defineProvider<Schema extends OptionsSchema>(
  definition: ProviderDefinition<Schema>,
): ProviderDefinition<Schema> {
  return definition;
}

/** The config object a definition accepts, as a caller writes it (defaults optional). */
export type ProviderConfig<Definition> =
  Definition extends ProviderDefinition<infer Schema> ? v.InferInput<Schema> : never;
