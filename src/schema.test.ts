/**
 * `src/schema.ts` against zod: every provider's options schema is built twice, once with each
 * library (the module's import of the other is mocked), and both must accept the same configs
 * with the same result and refuse the same ones naming the same fields. The configs are each
 * provider's base config with every field set, in turn, to each of a list of awkward values.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import * as zod from "zod";
import * as mini from "./schema.js";

interface Parser {
  safeParse(
    input: unknown,
  ):
    | { success: true; data: unknown }
    | { success: false; error: { issues: readonly { path: readonly PropertyKey[] }[] } };
}

const MODULES = {
  local: ["../adapters/local/options.js", "localOptionsSchema"],
  memory: ["../adapters/memory/options.js", "memoryOptionsSchema"],
  aws: ["../adapters/aws/options.js", "awsOptionsSchema"],
  gcp: ["../adapters/gcp/options.js", "gcpOptionsSchema"],
  azure: ["../adapters/azure/options.js", "azureOptionsSchema"],
  vault: ["../adapters/vault/options.js", "vaultOptionsSchema"],
  custom: ["./custom-adapter.js", "customOptionsSchema"],
} as const;

/** The schema of `provider` built with `library`, whichever library its modules import. */
async function schemaWith(library: "zod" | "mini", provider: keyof typeof MODULES): Promise<Parser> {
  vi.resetModules();
  if (library === "zod") vi.doMock("./schema.js", () => zod.z);
  else vi.doMock("zod", () => ({ z: mini, default: mini }));
  const [path, name] = MODULES[provider];
  const module = (await import(/* @vite-ignore */ path)) as Record<string, Parser>;
  return module[name] as Parser;
}

afterEach(() => {
  vi.doUnmock("zod");
  vi.doUnmock("./schema.js");
  vi.resetModules();
});

const client = {
  send: () => undefined,
  destroy: () => undefined,
  read: () => undefined,
  write: () => undefined,
  getSecret: () => undefined,
  setSecret: () => undefined,
  getToken: () => undefined,
  createSecret: () => undefined,
  addSecretVersion: () => undefined,
  accessSecretVersion: () => undefined,
  deleteSecret: () => undefined,
};

const AWKWARD: readonly unknown[] = [
  undefined,
  null,
  0,
  1,
  -1,
  1.5,
  20,
  65_536,
  1e9,
  Number.NaN,
  true,
  false,
  "",
  "x",
  "team-a",
  "Team_A",
  "-a",
  "x".repeat(41),
  "secret",
  "a/b",
  "secret/../x",
  "http://10.0.0.1:4566",
  "http://127.0.0.1:8200",
  "http://[::1]:1",
  " https://a.example/ ",
  "https://v.vault.azure.net",
  "https:/x",
  "http:example.com",
  "ftp://x.example",
  "127.0.0.1",
  "localhost",
  "destroy",
  "soft",
  "automatic",
  {},
  [],
  ["us-east1"],
  { ttlMs: 10 },
  { ttlMs: 10, maxEntries: 0 },
  { ttlMs: 1.5 },
  { ttlMs: 10, x: 1 },
  { accessKeyId: "a", secretAccessKey: "b" },
  { accessKeyId: "a" },
  { client_email: "a@b", private_key: "k", extra: 1 },
  { client_email: "a@b" },
  { roleId: "r", secretId: "s" },
  { roleId: "r", secretId: "" },
  { tenantId: "t", clientId: "c", clientSecret: "s" },
  { tenantId: "t", clientId: "c", clientSecret: "s", authorityHost: "http://x" },
  { tenantId: "t" },
  { userManaged: { locations: ["us-east1", "europe-west1"] } },
  { userManaged: { locations: [] } },
  { userManaged: { locations: ["us-east1", "us-east1"] } },
  { userManaged: { locations: ["US"] } },
  { a: "b" },
  client,
];

const BASES: Record<keyof typeof MODULES, Record<string, unknown>[]> = {
  local: [{ provider: "local" }, { provider: "local", path: "/tmp/x.db", key: "k" }],
  memory: [{ provider: "memory" }],
  aws: [{ provider: "aws" }, { provider: "aws", endpoint: "http://10.0.0.1:4566", allowPlaintextRemote: true }],
  gcp: [
    { provider: "gcp", projectId: "p-1" },
    { provider: "gcp", projectId: "p-1", plaintext: true, apiEndpoint: "127.0.0.1", port: 8085 },
    { provider: "gcp", projectId: "p-1", plaintext: true, apiEndpoint: "10.0.0.1" },
    { provider: "gcp", projectId: "p-1", plaintext: true },
  ],
  azure: [{ provider: "azure", vaultUrl: "https://v.vault.azure.net" }],
  vault: [{ provider: "vault" }, { provider: "vault", address: "http://10.0.0.1:8200", allowPlaintextRemote: true }],
  custom: [{ provider: "custom", module: "./adapter.js" }],
};

/** What a parse says, in the terms both libraries share. */
function outcome(parser: Parser, input: unknown): unknown {
  const result = parser.safeParse(input);
  if (result.success) return { ok: result.data };
  // Distinct, in order: zod reports some fields twice (a \`min\` check runs on an array given for a string).
  return { fields: [...new Set(result.error.issues.map((issue) => issue.path.map(String).join(".")))] };
}

describe("the options schemas with src/schema.ts and with zod", () => {
  for (const provider of Object.keys(MODULES) as (keyof typeof MODULES)[]) {
    it(`${provider}: the same configs pass with the same result; the same fail, naming the same fields`, async () => {
      const withZod = await schemaWith("zod", provider);
      const withMini = await schemaWith("mini", provider);
      const fields = new Set(["provider", "prefix", "cache", "owner", "verifyOwnership", "unknownField"]);
      for (const base of BASES[provider]) {
        const shape = (withZod as { shape?: Record<string, unknown> }).shape ?? {};
        for (const field of Object.keys(shape)) fields.add(field);
        const inputs: unknown[] = [base, null, [], "local", { ...base, provider: undefined }];
        for (const field of fields) for (const value of AWKWARD) inputs.push({ ...base, [field]: value });
        for (const input of inputs) {
          expect(outcome(withMini, input), JSON.stringify(input)).toEqual(outcome(withZod, input));
        }
      }
    });
  }

  it("never puts a value into a message, only the type it got", () => {
    const schema = mini.strictObject({ token: mini.string().min(30), port: mini.number() });
    const result = schema.safeParse({ token: "hunter2-secret", port: "hunter3-secret" });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result)).not.toContain("hunter");
  });

  it("gives each parse its own copy of an object default", () => {
    const schema = mini.strictObject({ options: mini.record(mini.string(), mini.unknown()).default({}) });
    const first = schema.parse({});
    (first.options as Record<string, unknown>).changed = true;
    expect(schema.parse({}).options).toEqual({});
  });
});
