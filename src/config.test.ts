import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { expectConfigError } from "../test-support/expect-config-error.js";
import { configFromSources, redactConfig, resolveConfig, resolveConfigWithBackup } from "./config.js";
import { providers } from "./providers.js";
import { providerNames } from "./registry.js";
import { SecretStore } from "./secret-store.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-config-"));

describe("resolveConfig", () => {
  it("defaults to the local provider and the omnisecret prefix", async () => {
    const { config } = await resolveConfig({});
    expect(config).toMatchObject({ provider: "local", prefix: "omnisecret", maxValueBytes: 65_536 });
  });

  it("names the provider and the field of a bad value", async () => {
    const error = await expectConfigError(() => resolveConfig({ provider: "local", maxValueBytes: "big" }));
    expect(error.code).toBe("E_CONFIG");
    expect(error.provider).toBe("local");
    expect(error.field).toBe("maxValueBytes");
    expect(error.message).toContain('provider "local"');
    expect(error.message).toContain('"maxValueBytes"');
  });

  it("rejects unknown fields, so a typo is not silently ignored", async () => {
    const error = await expectConfigError(() => resolveConfig({ provider: "memory", maxValueByte: 10 }));
    expect(error.message).toContain('"maxValueByte"');
  });

  it("rejects an unknown provider and lists the known ones", async () => {
    const error = await expectConfigError(() => resolveConfig({ provider: "dropbox" }));
    expect(error.field).toBe("provider");
    expect(error.message).toContain(providerNames.join(", "));
  });

  it("rejects a prefix that some provider could not use in a name", async () => {
    for (const prefix of ["", "has/slash", "under_score", "-dash", "x".repeat(49)]) {
      expect((await expectConfigError(() => resolveConfig({ provider: "memory", prefix }))).field).toBe("prefix");
    }
  });

  it("does not echo a bad key into the message", async () => {
    const error = await expectConfigError(() => resolveConfig({ provider: "local", key: 12345678901 }));
    expect(error.message).not.toContain("12345678901");
  });

  it("rejects a config that is not an object", async () => {
    expect((await expectConfigError(() => resolveConfig("local"))).code).toBe("E_CONFIG");
  });

  it("names every problem at once: all unknown fields, and a cross-field check beside another field's problem", async () => {
    const unknown = await expectConfigError(() => resolveConfig({ provider: "memory", colour: 1, size: 2 }));
    expect(unknown.message).toContain('unknown field(s) "colour", "size"');
    const both = await expectConfigError(() =>
      resolveConfig({ provider: "aws", endpoint: "http://10.0.0.5:4566", maxAttempts: 0 }),
    );
    expect(both.field).toBe("maxAttempts");
    expect(both.message).toContain('field "maxAttempts": must be at least 1');
    expect(both.message).toContain('field "endpoint": uses plain http');
  });

  it("says what a field expects, never the value it got", async () => {
    const secret = "hunter2-not-for-logs";
    const error = await expectConfigError(() =>
      resolveConfig({ provider: "aws", region: 7, credentials: { accessKeyId: secret, secretAccessKey: 5 } }),
    );
    expect(error.message).toContain('field "region": must be a string (got number)');
    expect(error.message).toContain('field "credentials.secretAccessKey": must be a string (got number)');
    expect(error.message).not.toContain(secret);
    const missing = await expectConfigError(() =>
      resolveConfig({ provider: "aws", credentials: { accessKeyId: secret } }),
    );
    expect(missing.message).toContain('field "credentials.secretAccessKey": is required');
  });

  it("refuses an array where an object belongs", async () => {
    const cache = await expectConfigError(() => resolveConfig({ provider: "memory", cache: [] }));
    expect(cache.field).toBe("cache");
    expect(cache.message).toContain("must be an object (got array)");
    const options = await expectConfigError(() => resolveConfig({ provider: "custom", module: "./x.js", options: [] }));
    expect(options.field).toBe("options");
  });
});

describe("configFromSources", () => {
  it("reads OMNISECRET_PROVIDER and OMNISECRET_<PROVIDER>_<FIELD> variables", () => {
    const config = configFromSources({
      env: {
        OMNISECRET_PROVIDER: "local",
        OMNISECRET_LOCAL_PATH: "/tmp/x.db",
        OMNISECRET_LOCAL_MAX_VALUE_BYTES: "1000",
        OMNISECRET_PREFIX: "app",
      },
    });
    expect(config).toEqual({ provider: "local", path: "/tmp/x.db", maxValueBytes: 1000, prefix: "app" });
  });

  it("reads custom adapter module and JSON options", () => {
    const config = configFromSources({
      env: { OMNISECRET_PROVIDER: "custom", OMNISECRET_CUSTOM_MODULE: "./m.mjs", OMNISECRET_CUSTOM_OPTIONS: '{"a":1}' },
    });
    expect(config).toEqual({ provider: "custom", module: "./m.mjs", options: { a: 1 } });
  });

  it("names the variable, not its content, when it cannot be parsed", async () => {
    const error = await expectConfigError(() =>
      configFromSources({
        env: { OMNISECRET_PROVIDER: "custom", OMNISECRET_CUSTOM_MODULE: "m", OMNISECRET_CUSTOM_OPTIONS: "{hunter2" },
      }),
    );
    expect(error.message).toContain("OMNISECRET_CUSTOM_OPTIONS");
    expect(error.message).not.toContain("hunter2");
  });

  it("reads a JSON config file, with environment variables taking precedence", () => {
    const file = join(directory, "config.json");
    writeFileSync(file, JSON.stringify({ provider: "local", path: "/from/file.db", prefix: "filed" }));
    expect(configFromSources({ env: { OMNISECRET_CONFIG: file } })).toEqual({
      provider: "local",
      path: "/from/file.db",
      prefix: "filed",
    });
    expect(configFromSources({ env: { OMNISECRET_CONFIG: file, OMNISECRET_LOCAL_PATH: "/from/env.db" } }).path).toBe(
      "/from/env.db",
    );
  });

  it("keeps only the common fields of a file written for another provider", () => {
    const file = join(directory, "other.json");
    writeFileSync(file, JSON.stringify({ provider: "local", path: "/x.db", prefix: "shared" }));
    expect(configFromSources({ configFile: file, provider: "memory", env: {} })).toEqual({
      provider: "memory",
      prefix: "shared",
    });
  });

  it("reports a broken config file without quoting it", async () => {
    const file = join(directory, "broken.json");
    writeFileSync(file, '{"provider": "local", "key": "hunter2-secret-key"');
    const error = await expectConfigError(() => configFromSources({ configFile: file, env: {} }));
    expect(error.message).toContain("not valid JSON");
    expect(error.message).not.toContain("hunter2");
    expect(
      (await expectConfigError(() => configFromSources({ configFile: join(directory, "absent.json"), env: {} })))
        .message,
    ).toContain("could not be read");
  });

  it("builds a working store from the environment", async () => {
    const store = await SecretStore.fromEnv({ OMNISECRET_PROVIDER: "memory", OMNISECRET_MEMORY_MAX_VALUE_BYTES: "64" });
    expect(store.provider).toBe("memory");
    expect(store.maxValueBytes).toBe(64);
    await store.close();
  });
});

describe("redactConfig", () => {
  it("hides keys, tokens, credentials and custom options", () => {
    expect(
      redactConfig({
        provider: "local",
        prefix: "p",
        key: "k",
        path: "/x",
        options: { password: "p" },
        credentials: { accessKeyId: "a", secretAccessKey: "s" },
        token: "t",
      }),
    ).toEqual({
      provider: "local",
      prefix: "p",
      key: "[redacted]",
      path: "/x",
      options: "[redacted]",
      credentials: "[redacted]",
      token: "[redacted]",
    });
  });

  it("hides every secret field of every provider, whatever it holds, and shows a field that is not secret", () => {
    for (const definition of providers) {
      const visible = definition.envFields.find((field) => !field.secret && !field.field.includes("."));
      const config: Record<string, unknown> = { provider: definition.name, prefix: "p" };
      for (const [index, field] of definition.secretFields.entries()) {
        // A string, a nested object and an object built in code: each is hidden whole.
        config[field] = [`s3cr3t-${index}`, { inner: `s3cr3t-${index}` }, new (class Client {})()][index % 3];
      }
      if (visible) config[visible.field] = "visible-value";
      const redacted = redactConfig(config);
      expect(inspect(redacted, { depth: 10 }), definition.name).not.toMatch(/s3cr3t|Client/);
      for (const field of definition.secretFields)
        expect(redacted[field], `${definition.name} ${field}`).toBe("[redacted]");
      if (visible) expect(redacted[visible.field], `${definition.name} ${visible.field}`).toBe("visible-value");
      expect(redacted).toMatchObject({ provider: definition.name, prefix: "p" });
    }
  });

  it("hides credentials, tokens, AppRole and injected clients, and shows where the store is", () => {
    const client = new (class SecretsManagerClient {
      readonly key = "client-key";
    })();
    expect(
      redactConfig({
        provider: "aws",
        region: "eu-west-1",
        kmsKeyId: "alias/app",
        credentials: { accessKeyId: "AKIA", secretAccessKey: "s" },
        client,
      }),
    ).toEqual({
      provider: "aws",
      region: "eu-west-1",
      kmsKeyId: "alias/app",
      credentials: "[redacted]",
      client: "[redacted]",
    });
    expect(
      redactConfig({
        provider: "vault",
        address: "https://vault.example:8200",
        mount: "kv",
        token: "hvs.t",
        appRole: { roleId: "r", secretId: "s", mount: "approle" },
      }),
    ).toEqual({
      provider: "vault",
      address: "https://vault.example:8200",
      mount: "kv",
      token: "[redacted]",
      appRole: "[redacted]",
    });
    // An object shows only where a field holds one (a JSON variable); elsewhere it is not what the schema takes.
    const replication = { userManaged: { locations: ["us-east1"] } };
    expect(redactConfig({ provider: "gcp", projectId: { password: "p" }, replication })).toEqual({
      provider: "gcp",
      projectId: "[redacted]",
      replication,
    });
    const credential = { getToken: async () => ({ token: "t" }) };
    expect(redactConfig({ provider: "azure", vaultUrl: "https://v.example", credential })).toEqual({
      provider: "azure",
      vaultUrl: "https://v.example",
      credential: "[redacted]",
    });
  });

  it("redacts a backup as a config of its own provider, and the cache's fields as the cache's", () => {
    expect(
      redactConfig({
        path: "/x",
        key: "k",
        cache: { ttlMs: 5, maxEntries: 10, token: "t" },
        backup: { provider: "vault", address: "http://127.0.0.1:8200", token: "t" },
      }),
    ).toEqual({
      path: "/x",
      key: "[redacted]",
      cache: { ttlMs: 5, maxEntries: 10, token: "[redacted]" },
      backup: { provider: "vault", address: "http://127.0.0.1:8200", token: "[redacted]" },
    });
  });

  it("shows of a provider it does not know only what every config has, and redacts the rest", () => {
    expect(
      redactConfig({
        provider: "directory",
        prefix: "p",
        module: "./adapter.mjs",
        directory: "/srv/secrets",
        apiKey: "k",
        cache: { ttlMs: 5 },
      }),
    ).toEqual({
      provider: "directory",
      prefix: "p",
      module: "[redacted]",
      directory: "[redacted]",
      apiKey: "[redacted]",
      cache: { ttlMs: 5 },
    });
  });
});

describe("resolveConfigWithBackup: places and namespaces (issue 20, items 2 and 6)", () => {
  it("takes loopback host names as one place: localhost, 127.0.0.1 and [::1] are the primary's vault", async () => {
    for (const [primary, backup] of [
      ["http://localhost:8200", "http://127.0.0.1:8200"],
      ["http://127.0.0.1:8200", "http://[::1]:8200/"],
      ["https://LOCALHOST:8200", "https://127.0.0.2:8200"],
    ] as const) {
      const config = {
        provider: "vault",
        address: primary,
        token: "t",
        backup: { provider: "vault", address: backup, token: "u", prefix: "x" },
      };
      await expect(resolveConfigWithBackup(config), primary).rejects.toMatchObject({
        code: "E_CONFIG",
        field: "backup",
        message: expect.stringContaining("primary's own location"),
      });
    }
    const gcp = { provider: "gcp", projectId: "project-1", apiEndpoint: "localhost", port: 9090 };
    await expect(
      resolveConfigWithBackup({ ...gcp, backup: { ...gcp, apiEndpoint: "127.0.0.1" } }),
    ).rejects.toMatchObject({ code: "E_CONFIG", field: "backup" });
  });

  it("gives the backup the primary's prefix and owner unless its own config sets them", async () => {
    const inherited = await resolveConfigWithBackup({
      provider: "aws",
      region: "eu-west-1",
      prefix: "app-a",
      owner: "team-a",
      backup: { provider: "vault", address: "http://127.0.0.1:8200", token: "t" },
    });
    expect(inherited.backup?.config).toMatchObject({ prefix: "app-a", owner: "team-a" });
    expect(inherited.backup?.input).toMatchObject({ prefix: "app-a", owner: "team-a" });
    const own = await resolveConfigWithBackup({
      provider: "local",
      prefix: "app-a",
      backup: { provider: "vault", address: "http://127.0.0.1:8200", token: "t", prefix: "mine", owner: "o" },
    });
    expect(own.backup?.config).toMatchObject({ prefix: "mine", owner: "o" });
  });

  it("refuses an owner the backup cannot keep while it shares the primary's prefix, naming backup.prefix", async () => {
    const config = {
      provider: "aws",
      region: "eu-west-1",
      owner: "team-a",
      backup: { provider: "local", path: join(directory, "owners.db") },
    };
    await expect(resolveConfigWithBackup(config)).rejects.toMatchObject({
      code: "E_CONFIG",
      field: "backup.prefix",
      message: expect.stringContaining('"omnisecret-team-a"'),
    });
    const fixed = await resolveConfigWithBackup({
      ...config,
      backup: { ...config.backup, prefix: "omnisecret-team-a" },
    });
    expect(fixed.backup?.config.prefix).toBe("omnisecret-team-a");
    // The default owner has no namespace of its own to lose.
    await expect(resolveConfigWithBackup({ ...config, owner: undefined })).resolves.toBeDefined();
  });
});
