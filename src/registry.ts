/**
 * Finding a provider's definition by name, and loading its adapter module with a missing SDK
 * turned into an error that says what to install. The list itself is `src/providers.ts`.
 *
 * Adapter modules (and through them the cloud SDKs) are imported only when their provider is
 * selected, so an application on Vault never loads an AWS SDK; the same holds for options
 * schemas, which are loaded only for the selected provider.
 */
import type * as v from "valibot";
import type { SecretsAdapterFactory } from "./contract.js";
import { ConfigError, describeInput, errorCodeOf } from "./errors.js";
import type { OptionsSchema, ProviderDefinition } from "./provider-definition.js";
import { providers } from "./providers.js";

export type { ProviderDefinition } from "./provider-definition.js";

/**
 * The list as one type, each definition's schema widened to what every schema gives. Sound as used:
 * a config reaches a definition's `loadAdapter` factory and `location` only after that same
 * definition's schema made it (`resolveConfig`), a pairing TypeScript cannot follow through a list
 * of different schemas, hence this one cast; each definition's factory is checked against its own
 * schema's output where `defineProvider` is called.
 */
const definitions = providers as readonly unknown[] as readonly ProviderDefinition[];

export const providerNames: readonly string[] = definitions.map((definition) => definition.name);

/** The definition of a registered provider, or undefined for any other name. */
export function findProviderDefinition(name: unknown): ProviderDefinition | undefined {
  return definitions.find((candidate) => candidate.name === name);
}

export function getProviderDefinition(name: unknown): ProviderDefinition {
  const definition = findProviderDefinition(name);
  if (definition) return definition;
  throw new ConfigError(
    // The rejected name is not echoed: a mistyped command line can put anything in that place.
    `provider must be one of ${providerNames.join(", ")} (got ${describeInput(name)})`,
    { field: "provider" },
  );
}

/** Imports a provider's adapter module, turning a missing SDK into an error that says what to install. */
export function loadAdapterFactory<Schema extends OptionsSchema>(
  definition: ProviderDefinition<Schema>,
): Promise<SecretsAdapterFactory<v.InferOutput<Schema>>> {
  return loadNamingMissingPackage(definition, definition.loadAdapter);
}

/** Imports a provider's options schema. */
export function loadOptionsSchema(definition: ProviderDefinition): Promise<OptionsSchema> {
  return loadNamingMissingPackage(definition, definition.loadOptionsSchema);
}

async function loadNamingMissingPackage<T>(
  definition: Pick<ProviderDefinition, "name" | "sdkPackages">,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const missing = missingPackage(error, definition.sdkPackages);
    if (missing) {
      throw new ConfigError(
        `provider "${definition.name}" needs the npm package ${missing}, which is not installed: run \`npm install ${missing}\``,
        { provider: definition.name, field: "provider", cause: error },
      );
    }
    throw error;
  }
}

function missingPackage(error: unknown, packages: readonly string[]): string | undefined {
  const code = errorCodeOf(error);
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return undefined;
  const message = String((error as { message?: unknown }).message);
  return packages.find((name) => message.includes(`'${name}'`) || message.includes(`"${name}"`));
}
