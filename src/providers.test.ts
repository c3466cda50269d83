/**
 * Every provider in src/providers.ts is registered everywhere else it must be: a test side
 * (server, integration tests, raw bench side), a docs page that lists its environment variables,
 * and its SDK packages in package.json. Adding a provider and forgetting one of them fails here.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { providerTestSides } from "../integration-tests/servers/index.js";
import { customProvider } from "./custom-provider.js";
import type { ProviderDefinition } from "./provider-definition.js";
import { providers } from "./providers.js";

const root = join(import.meta.dirname, "..");
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<
  string,
  Record<string, unknown> | undefined
>;
/** The top-level entries of a provider's options schema (a strict object, alone or first in a pipe). */
async function optionEntries(
  definition: Pick<ProviderDefinition, "name" | "loadOptionsSchema">,
): Promise<v.ObjectEntries> {
  const schema = (await definition.loadOptionsSchema()) as v.GenericSchema & {
    pipe?: readonly [{ entries?: v.ObjectEntries }];
    entries?: v.ObjectEntries;
  };
  const entries = schema.entries ?? schema.pipe?.[0].entries;
  if (entries === undefined) throw new Error(`the options schema of ${definition.name} is not an object`);
  return entries;
}

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
      // The rest of what the bench reads of a provider with a raw side: its minimum requests per
      // operation, its raw side of the scale workload and of the cold start.
      expect(side?.minimumRequests, "minimumRequests in integration-tests/servers/index.ts").toBeTypeOf("object");
      expect(side?.loadScaleRaw, "loadScaleRaw in integration-tests/servers/index.ts").toBeTypeOf("function");
      expect(side?.coldStartRaw, "coldStartRaw in integration-tests/servers/index.ts").toBeTypeOf("string");
      expect(existsSync(fileURLToPath(side?.coldStartRaw as string)), `${side?.coldStartRaw} exists`).toBe(true);
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

    it(`${definition.name}: declares its secret fields, fields of its options that agree with its secret environment fields`, async () => {
      expect(Array.isArray(definition.secretFields), "secretFields in its provider.ts").toBe(true);
      const entries = await optionEntries(definition);
      for (const field of definition.secretFields) expect(Object.keys(entries), "a secret field").toContain(field);
      const secretAt = (path: string) => definition.secretFields.includes(path.split(".")[0] as string);
      for (const field of definition.envFields) {
        // A secret variable fills a secret field; a non-secret one may fill a part of one (a credential's tenant id).
        if (field.secret) expect(secretAt(field.field), `${field.field} is secret, so is its field`).toBe(true);
        if (secretAt(field.field) && !field.field.includes("."))
          expect(field.secret, `${field.field}'s variable`).toBe(true);
      }
    });

    it(`${definition.name}: redactConfig shows each field of its options that is not secret, and only those`, async () => {
      // redactConfig shows a field only when it knows it is not secret: the common ones, and those with a
      // variable that is not marked secret. A field of neither kind would be hidden although it is harmless.
      const shown = new Set(["provider", "prefix", "cache", "circuitBreaker", "telemetry"]);
      for (const field of definition.envFields) if (!field.secret) shown.add(field.field.split(".")[0] as string);
      for (const field of Object.keys(await optionEntries(definition))) {
        expect(shown.has(field) || definition.secretFields.includes(field), `${field}: secret, or has a variable`).toBe(
          true,
        );
      }
    });

    it(`${definition.name}: docs/configuration.md's table of shared options gives its maxAttempts default`, async () => {
      const maxAttempts = (await optionEntries(definition)).maxAttempts;
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
