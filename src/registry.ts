/**
 * The provider registry: which providers exist, how their options are validated and read from
 * the environment, and how their adapter module is loaded.
 *
 * Adapter modules (and through them the cloud SDKs) are imported only when their provider is
 * selected, so an application on Vault never loads an AWS SDK. The options schemas imported
 * here are plain zod and load no SDK.
 */
import type { z } from "zod";
import { awsEnvFields, awsOptionsSchema } from "../adapters/aws/options.js";
import { gcpEnvFields, gcpOptionsSchema } from "../adapters/gcp/options.js";
import { localEnvFields, localOptionsSchema } from "../adapters/local/options.js";
import { memoryEnvFields, memoryOptionsSchema } from "../adapters/memory/options.js";
import { vaultEnvFields, vaultOptionsSchema } from "../adapters/vault/options.js";
import type { EnvField } from "./config-schema.js";
import type { SecretsAdapterFactory } from "./contract.js";
import { createCustomAdapter, customEnvFields, customOptionsSchema } from "./custom-adapter.js";
import { ConfigError, describeInput } from "./errors.js";

export interface ProviderDefinition {
  readonly name: string;
  /** Validates the whole config object of this provider, `provider` and `prefix` included. */
  readonly optionsSchema: z.ZodType<{ provider: string; prefix: string }>;
  readonly envFields: readonly EnvField[];
  /** npm packages the adapter imports; named in the error when one is missing. */
  readonly sdkPackages: readonly string[];
  readonly loadFactory: () => Promise<SecretsAdapterFactory<never>>;
}

const builtInProviders: readonly ProviderDefinition[] = [
  {
    name: "local",
    optionsSchema: localOptionsSchema,
    envFields: localEnvFields,
    sdkPackages: ["better-sqlite3"],
    loadFactory: async () => (await import("../adapters/local/index.js")).createLocalAdapter,
  },
  {
    name: "memory",
    optionsSchema: memoryOptionsSchema,
    envFields: memoryEnvFields,
    sdkPackages: [],
    loadFactory: async () => (await import("../adapters/memory/index.js")).createMemoryAdapter,
  },
  {
    name: "aws",
    optionsSchema: awsOptionsSchema,
    envFields: awsEnvFields,
    sdkPackages: ["@aws-sdk/client-secrets-manager"],
    loadFactory: async () => (await import("../adapters/aws/index.js")).createAwsAdapter,
  },
  {
    name: "gcp",
    optionsSchema: gcpOptionsSchema,
    envFields: gcpEnvFields,
    sdkPackages: ["@google-cloud/secret-manager", "google-gax"],
    loadFactory: async () => (await import("../adapters/gcp/index.js")).createGcpAdapter,
  },
  {
    name: "vault",
    optionsSchema: vaultOptionsSchema,
    envFields: vaultEnvFields,
    sdkPackages: ["node-vault"],
    loadFactory: async () => (await import("../adapters/vault/index.js")).createVaultAdapter,
  },
  {
    name: "custom",
    optionsSchema: customOptionsSchema,
    envFields: customEnvFields,
    sdkPackages: [],
    loadFactory: async () => createCustomAdapter,
  },
];

/** Providers whose adapters are planned but not in this release. */
const comingProviders = ["azure"] as const;

export const providerNames: readonly string[] = builtInProviders.map((definition) => definition.name);

export function getProviderDefinition(name: unknown): ProviderDefinition {
  const definition = builtInProviders.find((candidate) => candidate.name === name);
  if (definition) return definition;
  if ((comingProviders as readonly unknown[]).includes(name)) {
    throw new ConfigError(`provider "${String(name)}" is not available in this release of omnisecret yet`, {
      field: "provider",
    });
  }
  throw new ConfigError(
    // The rejected name is not echoed: a mistyped command line can put anything in that place.
    `provider must be one of ${providerNames.join(", ")} (got ${describeInput(name)})`,
    { field: "provider" },
  );
}

/** Imports a provider's adapter module, turning a missing SDK into an error that says what to install. */
export async function loadAdapterFactory(definition: ProviderDefinition): Promise<SecretsAdapterFactory<never>> {
  try {
    return await definition.loadFactory();
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
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return undefined;
  const message = String((error as { message?: unknown }).message);
  return packages.find((name) => message.includes(`'${name}'`) || message.includes(`"${name}"`));
}
