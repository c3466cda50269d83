/**
 * Every provider in src/providers.ts is registered everywhere else it must be: a test side
 * (server, integration tests, raw bench side), a docs page that lists its environment variables,
 * and its SDK packages in package.json. Adding a provider and forgetting one of them fails here.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { providerTestSides } from "../integration-tests/servers/index.js";
import { customProvider } from "./custom-provider.js";
import { providers } from "./providers.js";

const root = join(import.meta.dirname, "..");
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<
  string,
  Record<string, unknown> | undefined
>;
/** The custom provider is a loader of other people's adapters: it has no SDK and no server of its own. */
const builtIn = providers.filter((definition) => definition !== customProvider);

describe("provider registration", () => {
  it("has one test side per built-in provider, and none for an unknown provider", () => {
    expect(providerTestSides.map((side) => side.provider).sort()).toEqual(builtIn.map((d) => d.name).sort());
  });

  for (const definition of builtIn) {
    const name = definition.name;
    const side = providerTestSides.find((candidate) => candidate.provider === name);

    it(`${name}: a test server and integration tests, unless embedded`, () => {
      // Stores inside the application's process: nothing to start, so no test server.
      if (definition.embedded) return expect(side?.server).toBeUndefined();
      expect(side?.server?.provider, "server in integration-tests/servers/index.ts").toBe(name);
      expect(existsSync(join(root, "integration-tests", "servers", name, `${name}.test.ts`))).toBe(true);
    });

    it(`${name}: a raw side for npm run bench, unless its definition says it has no baseline`, () => {
      if (definition.benchBaseline === false) return expect(side?.loadBenchRaw).toBeUndefined();
      expect(side?.loadBenchRaw, "loadBenchRaw in integration-tests/servers/index.ts").toBeTypeOf("function");
    });

    it(`${name}: its SDK packages are optional peers and dev dependencies (or dependencies)`, () => {
      for (const sdk of definition.sdkPackages) {
        if (packageJson.dependencies?.[sdk]) continue;
        expect(packageJson.peerDependencies?.[sdk], `${sdk} in peerDependencies`).toBeTypeOf("string");
        expect(packageJson.peerDependenciesMeta?.[sdk], `${sdk} optional`).toEqual({ optional: true });
        expect(packageJson.devDependencies?.[sdk], `${sdk} in devDependencies`).toBeTypeOf("string");
      }
    });
  }

  for (const definition of providers) {
    it(`${definition.name}: a location names the fields it reads (for the refusal of a backup there)`, () => {
      if (!definition.location) return expect(definition.locationFields).toBeUndefined();
      expect(definition.locationFields?.length, "locationFields in its provider.ts").toBeGreaterThan(0);
    });

    it(`${definition.name}: docs/configuration.md's table of shared options gives its maxAttempts default`, async () => {
      const schema = (await definition.loadOptionsSchema()) as v.GenericSchema & {
        pipe?: readonly [{ entries?: v.ObjectEntries }];
        entries?: v.ObjectEntries;
      };
      const maxAttempts = (schema.entries ?? schema.pipe?.[0].entries)?.maxAttempts;
      if (maxAttempts === undefined) return;
      const row = readFileSync(join(root, "docs", "configuration.md"), "utf8")
        .split("\n")
        .find((line) => line.startsWith("| `maxAttempts`"));
      expect(row).toContain(`${definition.name} \`${v.getDefault(maxAttempts as v.GenericSchema)}\``);
    });

    it(`${definition.name}: docs/providers/${definition.name}.md lists every environment variable`, () => {
      const page = join(root, "docs", "providers", `${definition.name}.md`);
      expect(existsSync(page), page).toBe(true);
      const text = readFileSync(page, "utf8");
      for (const field of definition.envFields) {
        for (const variable of field.names) expect(text, `${variable} on ${page}`).toContain(variable);
      }
    });
  }
});
