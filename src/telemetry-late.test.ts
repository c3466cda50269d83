/**
 * Telemetry of stores made before an OpenTelemetry SDK is registered (its own file: the SDK is
 * registered once per process, here in the middle of the test).
 */
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { registerTestSdk } from "../test-support/otel.js";
import type { SecretsAdapter } from "./contract.js";
import { SecretStore } from "./secret-store.js";

it("a store made before the SDK is registered is traced from when the api has loaded", async () => {
  const early = await SecretStore.create({ provider: "memory" });
  const backupLike: SecretsAdapter = {
    capabilities: {},
    storeSecretValues: async () => undefined,
    getSecretValues: async () => ({ values: { k: "v" }, cacheable: false }),
    updateSecretValues: async () => undefined,
    deleteSecretValues: async () => undefined,
  };
  const custom = SecretStore.fromAdapter(backupLike, { provider: "custom" });
  const id = randomUUID();
  await early.storeSecretValues(id, { k: "v" });
  const { spans } = registerTestSdk();
  // This create finds the SDK and awaits the api's import, which the early stores then use.
  const late = await SecretStore.create({ provider: "memory" });
  await early.getSecretValues(id);
  await custom.getSecretValues(id);
  await late.storeSecretValues(randomUUID(), { k: "v" });
  expect(spans.getFinishedSpans().map((span) => [span.name, span.attributes["omnisecret.provider"]])).toEqual([
    ["omnisecret.get", "memory"],
    ["omnisecret.get", "custom"],
    ["omnisecret.store", "memory"],
  ]);
  // An adapter's read that must not be cached (a backup store's) is said to come from the backup.
  expect(spans.getFinishedSpans()[1]?.attributes["omnisecret.source"]).toBe("backup");
  for (const store of [early, custom, late]) await store.close();
});
