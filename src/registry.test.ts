import { describe, expect, it } from "vitest";
import { ConfigError } from "./errors.js";
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
});
