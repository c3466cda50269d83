import { randomUUID } from "node:crypto";
import { afterAll, expect, inject, it } from "vitest";
import { createAdapterFromConfig, SecretStore, type SecretsAdapter } from "../src/index.js";
import { testSecretsAdapter, testSecretsAdapterModel } from "../src/testing/index.js";

/**
 * The ready config of a provider's test server. A test file for a provider whose server was
 * not started fails here with the reason, rather than being skipped.
 */
export function serverConfig(provider: string): Record<string, unknown> {
  const config = inject("servers")[provider];
  if (!config) {
    throw new Error(
      `no ${provider} test server is running: the harness starts the providers in OMNISECRET_TEST_SERVERS (or all); include "${provider}"`,
    );
  }
  return structuredClone(config);
}

/**
 * Runs the shared contract suite against a provider's test server, with the read cache off and
 * on, and the model-based randomized tests with the cache off.
 */
export function testContractOnServer(
  provider: string,
  config: Record<string, unknown>,
  options: { readonly versions?: { readonly keepVersions: number } } = {},
): void {
  const createAdapter = async ({ prefix }: { prefix: string }) =>
    (await createAdapterFromConfig({ ...config, prefix })).adapter;
  testSecretsAdapter(provider, { createAdapter });
  testSecretsAdapter(provider, { createAdapter, cache: { ttlMs: 60_000 } });
  testSecretsAdapterModel(provider, { createAdapter });
  if (options.versions) {
    // Versions (issue 23): the suites' rotation, history and token checks with keepVersions set.
    const { keepVersions } = options.versions;
    const keeping = async ({ prefix }: { prefix: string }) =>
      (await createAdapterFromConfig({ ...config, prefix, keepVersions })).adapter;
    const label = `${provider} (keepVersions ${keepVersions})`;
    testSecretsAdapter(label, { createAdapter: keeping, versions: options.versions });
    testSecretsAdapterModel(label, { createAdapter: keeping, versions: options.versions });
  }
}

/**
 * Returns a function that makes an adapter on the test server with a fresh prefix
 * `<label>-xxxxxxxx` (and any overrides), for tests that drive an adapter without the facade;
 * every adapter it made is closed after the file's tests.
 */
export function adapterOpener(
  config: Record<string, unknown>,
  label: string,
): (overrides?: Record<string, unknown>) => Promise<{ adapter: SecretsAdapter; prefix: string }> {
  const adapters: SecretsAdapter[] = [];
  afterAll(async () => {
    for (const adapter of adapters) await adapter.close?.();
  });
  return async (overrides = {}) => {
    const prefix = `${label}-${randomUUID().slice(0, 8)}`;
    const { adapter } = await createAdapterFromConfig({ ...config, prefix, ...overrides });
    adapters.push(adapter);
    return { adapter, prefix };
  };
}

/**
 * Returns a function that opens a store on the test server with a fresh prefix (and any
 * overrides); every store it opened is closed after the file's tests.
 */
export function storeOpener(
  config: Record<string, unknown>,
  freshPrefix: () => string,
): (overrides?: Record<string, unknown>) => Promise<SecretStore> {
  const stores: SecretStore[] = [];
  afterAll(async () => {
    for (const store of stores) await store.close();
  });
  return async (overrides = {}) => {
    const store = await SecretStore.create({ ...config, prefix: freshPrefix(), ...overrides });
    stores.push(store);
    return store;
  };
}

/**
 * A test that a secret stored under another `owner` (same prefix) is missing for this one and
 * stays intact: the ownership marks of adapters that have an `owner` option.
 */
export function itTreatsAnotherOwnersSecretAsMissing(
  open: (overrides?: Record<string, unknown>) => Promise<SecretStore>,
  freshPrefix: () => string,
): void {
  it("treats another owner's secret as missing", async () => {
    const prefix = freshPrefix();
    const mine = await open({ prefix, owner: "team-a" });
    const theirs = await open({ prefix, owner: "team-b" });
    const id = randomUUID();
    await theirs.storeSecretValues(id, { team: "b" });
    await expect(mine.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(mine.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(await theirs.getSecretValues(id)).toEqual({ team: "b" });
  });
}
