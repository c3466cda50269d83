import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { MemoryAdapter } from "../adapters/memory/index.js";
import type { AdapterContext } from "./contract.js";
import { ConfigError } from "./errors.js";
import { defineProvider } from "./provider-definition.js";
import { getProviderDefinition, loadAdapterFactory, type ProviderDefinition } from "./registry.js";

describe("provider registry", () => {
  it("names the npm package to install when a provider's SDK is missing", async () => {
    const definition: ProviderDefinition = {
      ...getProviderDefinition("memory"),
      name: "imaginary",
      sdkPackages: ["@omnisecret-test/not-installed-sdk"],
      // @ts-expect-error the package does not exist: that is the point
      loadAdapter: async () => (await import("@omnisecret-test/not-installed-sdk")).default,
    };
    const error = await loadAdapterFactory(definition).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain("npm install @omnisecret-test/not-installed-sdk");
    expect((error as ConfigError).provider).toBe("imaginary");
  });

  it("knows azure, with the packages its adapter needs", () => {
    const definition = getProviderDefinition("azure");
    expect(definition.name).toBe("azure");
    expect(definition.sdkPackages).toEqual(["@azure/keyvault-secrets", "@azure/identity"]);
  });

  it("names the known providers when one is unknown", () => {
    expect(() => getProviderDefinition("azur")).toThrow(/must be one of .*azure/);
  });

  it("types a definition's adapter factory by what its options schema gives", () => {
    const schema = v.strictObject({ provider: v.literal("typed"), prefix: v.string(), size: v.number() });
    const fits = (options: { prefix: string; size: number }, _context: AdapterContext) =>
      new MemoryAdapter({ maxValueBytes: options.size });
    const wantsMore = (options: { size: number; path: string }, _context: AdapterContext) =>
      new MemoryAdapter({ maxValueBytes: options.size + options.path.length });
    const common = {
      name: "typed",
      envFields: [],
      secretFields: [],
      sdkPackages: [],
      loadOptionsSchema: async () => schema,
    };
    expect(defineProvider({ ...common, loadAdapter: async () => fits }).name).toBe("typed");
    // @ts-expect-error the factory reads a field (path) the schema does not give
    expect(defineProvider({ ...common, loadAdapter: async () => wantsMore }).name).toBe("typed");
  });
});
