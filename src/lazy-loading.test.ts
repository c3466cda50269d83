import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { providerTestSides } from "../integration-tests/servers/index.js";
import { CLOUD_SDK_PACKAGES, modulesLoadedFor, packagesLoadedFor } from "../test-support/packages-loaded.js";
import { DEFAULT_PROVIDER } from "./config.js";
import { customProvider } from "./custom-provider.js";
import { providers } from "./providers.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-lazy-db-"));
/** Node 22.13+ and 24 have node:sqlite, and the local store then loads no SQLite package at all. */
const hasNodeSqlite = process.getBuiltinModule?.("node:sqlite") !== undefined;
/** The SDK packages a provider's adapter loads on this Node. */
const loadsOnThisNode = (sdkPackages: readonly string[]) =>
  sdkPackages.filter((name) => !(hasNodeSqlite && name === "better-sqlite3"));

/** The default provider's config, with its file (if it keeps one) in the scratch folder. */
const defaultConfig = (): Record<string, unknown> => {
  const side = providerTestSides.find((candidate) => candidate.provider === DEFAULT_PROVIDER);
  if (!side) throw new Error(`no test side for ${DEFAULT_PROVIDER} in integration-tests/servers/index.ts`);
  return { ...side.offlineConfig(directory), provider: DEFAULT_PROVIDER };
};

describe("lazy loading of providers", () => {
  it("loads no cloud SDK when the default provider is used, and better-sqlite3 only without node:sqlite", () => {
    const loaded = packagesLoadedFor(defaultConfig());
    // The recorder must see packages at all, or the absence below proves nothing.
    expect(loaded).toContain("env-paths");
    if (hasNodeSqlite) expect(loaded).not.toContain("better-sqlite3");
    else expect(loaded).toContain("better-sqlite3");
    for (const sdk of CLOUD_SDK_PACKAGES) expect(loaded).not.toContain(sdk);
  });

  it("loads no package that only some calls need, for a create, store, get and delete of the default store", () => {
    const loaded = packagesLoadedFor(defaultConfig());
    expect(loaded).toContain("env-paths");
    // p-retry: only after a failed request; the CLI's packages: only in the CLI, and then only in
    // the verbs that read or write dotenv text or draw a progress bar. zod: the options schemas
    // use valibot, one module instead of zod's 95 (issue 13, cold start).
    for (const name of ["p-retry", "commander", "dotenv", "cli-progress", "lru-cache", "zod"]) {
      expect(loaded, name).not.toContain(name);
    }
  });

  it("loads lru-cache only for a store with the read cache on", () => {
    const loaded = packagesLoadedFor({ ...defaultConfig(), cache: { ttlMs: 1_000 } });
    expect(loaded).toContain("lru-cache");
  });

  it("loads the circuit breaker's module only for a store with a breaker", () => {
    const memory = { provider: "memory" };
    const without = modulesLoadedFor(memory);
    // The recorder must see omnisecret's own modules at all, or the absence proves nothing.
    expect(without.ownModules).toContain("src/index.js");
    expect(without.ownModules).not.toContain("src/circuit-breaker.js");
    expect(modulesLoadedFor({ ...memory, circuitBreaker: {} }).ownModules).toContain("src/circuit-breaker.js");
  });

  it("loads nothing of OpenTelemetry while no SDK is registered, though @opentelemetry/api is installed", () => {
    const loaded = modulesLoadedFor(defaultConfig());
    expect(loaded.packages).toContain("env-paths");
    expect(loaded.packages.filter((name) => name.startsWith("@opentelemetry/"))).toEqual([]);
    expect(loaded.ownModules).not.toContain("src/telemetry.js");
  });

  it("loads its telemetry with an SDK registered, and not with telemetry off", () => {
    const sdk = { OMNISECRET_PROBE_OTEL_SDK: "1" };
    // The recorder must see it loaded at all, or the absence below proves nothing.
    expect(modulesLoadedFor(defaultConfig(), sdk).ownModules).toContain("src/telemetry.js");
    const off = modulesLoadedFor({ ...defaultConfig(), telemetry: { enabled: false } }, sdk);
    expect(off.packages).toContain("env-paths");
    expect(off.ownModules).not.toContain("src/telemetry.js");
  });

  it("works as before when @opentelemetry/api is not installed: a store, get and delete succeed", () => {
    // An SDK's registry is set by hand (the SDK needs the api), so the store does try to load the
    // api; the probe fails (and execFileSync throws) if any of its operations does.
    const loaded = modulesLoadedFor(
      { ...defaultConfig() },
      { OMNISECRET_HIDE_PACKAGES: "@opentelemetry/api", OMNISECRET_PROBE_FAKE_OTEL_REGISTRY: "1" },
    );
    expect(loaded.packages).toContain("env-paths");
    expect(loaded.packages.filter((name) => name.startsWith("@opentelemetry/"))).toEqual([]);
    expect(loaded.ownModules).toContain("src/telemetry.js");
  });

  // A provider with no SDK of its own (the memory store) loads no one's, nor valibot's own file.
  for (const definition of providers.filter(
    (candidate) => candidate.sdkPackages.length === 0 && candidate !== customProvider,
  )) {
    it(`loads neither SQLite nor any cloud SDK when ${definition.name} is selected, nor valibot's own file`, () => {
      const side = providerTestSides.find((candidate) => candidate.provider === definition.name);
      if (!side) throw new Error(`no test side for ${definition.name} in integration-tests/servers/index.ts`);
      const loaded = modulesLoadedFor({ ...side.offlineConfig(directory), provider: definition.name });
      // The recorder must see the modules loaded at all, or the absences below prove nothing.
      expect(loaded.ownModules).toContain(`adapters/${definition.name}/index.js`);
      // valibot is bundled into dist (scripts/build.mjs): only the parts the schemas use load.
      expect(loaded.packages).not.toContain("valibot");
      expect(loaded.packages).not.toContain("zod");
      for (const sdk of providers.flatMap((other) => other.sdkPackages)) expect(loaded.packages).not.toContain(sdk);
      for (const sdk of CLOUD_SDK_PACKAGES) expect(loaded.packages).not.toContain(sdk);
    });
  }

  // One check per registered provider, so a provider added to src/providers.ts is covered at once.
  for (const definition of providers.filter((candidate) => candidate !== customProvider)) {
    it(`loads only ${definition.name}'s SDK, options schema and adapter when ${definition.name} is selected`, () => {
      const side = providerTestSides.find((candidate) => candidate.provider === definition.name);
      if (!side) throw new Error(`no test side for ${definition.name} in integration-tests/servers/index.ts`);
      const config = { ...side.offlineConfig(directory), provider: definition.name };
      const loaded = modulesLoadedFor(config, { OMNISECRET_PROBE_OPERATIONS: "0" });

      for (const sdk of loadsOnThisNode(definition.sdkPackages)) expect(loaded.packages).toContain(sdk);
      const othersPackages = providers
        .filter((other) => other !== definition)
        .flatMap((other) => other.sdkPackages)
        .filter((name) => !definition.sdkPackages.includes(name));
      for (const sdk of othersPackages) expect(loaded.packages, sdk).not.toContain(sdk);

      // Every provider.js is loaded (the definitions are the registry); beyond those, only the
      // selected provider's folder: its options schema and its adapter, no one else's.
      const adapterFolders = new Set(
        loaded.ownModules
          .filter((path) => path.startsWith("adapters/") && !path.endsWith("/provider.js"))
          .map((path) => path.split("/")[1]),
      );
      expect([...adapterFolders]).toEqual([definition.name]);
      expect(loaded.ownModules).toContain(`adapters/${definition.name}/options.js`);
      expect(loaded.ownModules).toContain(`adapters/${definition.name}/index.js`);
    });
  }
});
