/**
 * Telemetry with a real OpenTelemetry SDK registered (in-memory exporters): the spans and metrics
 * of every operation, and that none of them carries a value, and no id unless the config says so.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Attributes } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { registerTestSdk } from "../test-support/otel.js";
import { configFromSources } from "./config.js";
import { SecretStore } from "./secret-store.js";

const { spans, reader } = registerTestSdk();

afterEach(() => spans.reset());

/** Every text a span carries: name, attributes, events and their attributes, status message, links. */
function spanTexts(span: ReadableSpan): string[] {
  return [
    span.name,
    JSON.stringify(span.attributes),
    JSON.stringify(span.events),
    span.status.message ?? "",
    JSON.stringify(span.links),
    span.instrumentationScope.name,
  ];
}

async function metricTexts(): Promise<string[]> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics.flatMap((metric) => [
      metric.descriptor.name,
      ...metric.dataPoints.map((point) => JSON.stringify([point.attributes, point.value])),
    ]),
  );
}

async function dataPoints(name: string): Promise<{ attributes: Attributes; value: unknown }[]> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics
      .filter((metric) => metric.descriptor.name === name)
      .flatMap((metric) => metric.dataPoints.map(({ attributes, value }) => ({ attributes, value }))),
  );
}

const configs: Record<string, () => Record<string, unknown>> = {
  memory: () => ({ provider: "memory", keepVersions: 3 }),
  local: () => ({
    provider: "local",
    path: join(mkdtempSync(join(tmpdir(), "omnisecret-telemetry-")), "store.db"),
    keepVersions: 3,
  }),
};

/** Runs every operation with seeded values and some failures; answers the ids and values used. */
async function exercise(store: SecretStore): Promise<{ ids: string[]; values: string[] }> {
  const [a, b, missing] = [randomUUID(), randomUUID(), randomUUID()];
  const values = [`seed-${randomUUID()}`, `seed-${randomUUID()}`, `seed-${randomUUID()}`];
  const [v1, v2, v3] = values as [string, string, string];
  await store.storeSecretValues(a, { [`k-${v1}`]: v1 });
  await store.storeSecretValues(b, { key: v2 });
  expect(await store.getSecretValues(a)).toEqual({ [`k-${v1}`]: v1 });
  await store.updateSecretValues(a, { key: v3 });
  await store.getManySecretValues([a, b, missing], { onMissing: "skip" });
  // A watch starting from values b no longer holds: its first poll sends a revision request per
  // id (one span each, the missing id's failing), then reads b and yields the change.
  const stop = new AbortController();
  const watch = store.watch([b, missing], { since: new Map([[b, { key: v1 }]]), signal: stop.signal });
  expect((await watch.next()).value).toEqual({ id: b, kind: "changed", values: { key: v2 } });
  stop.abort();
  await watch.return();
  for await (const _ of store.listSecretIds()) {
    // every id
  }
  await store.listSecretVersions(a);
  await store.getSecretValues(a, { version: "previous" });
  await store.rollbackSecretValues(a);
  await expect(store.getSecretValues(missing)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
  await expect(store.storeSecretValues(b, { key: v1 })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
  await expect(store.updateSecretValues(missing, { key: v1 })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
  // Bad input is refused before the adapter: no span, nothing recorded.
  await expect(store.storeSecretValues(a, { key: 1 as unknown as string })).rejects.toMatchObject({
    code: "E_INVALID_SECRET_VALUES",
  });
  await store.deleteSecretValues(a, { expectedValues: { [`k-${v1}`]: v1 } });
  await store.deleteSecretValues(b);
  await expect(store.deleteSecretValues(b)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
  return { ids: [a, b, missing], values };
}

for (const [provider, config] of Object.entries(configs)) {
  describe(`telemetry on the ${provider} store`, () => {
    it("makes a span per operation with provider, operation, requests, source or error code", async () => {
      const store = await SecretStore.create(config());
      await exercise(store);
      await store.close();
      const finished = spans.getFinishedSpans();
      const byName = (name: string) => finished.filter((span) => span.name === name);
      expect(byName("omnisecret.store")).toHaveLength(3);
      expect(byName("omnisecret.get").length).toBeGreaterThanOrEqual(3);
      expect(byName("omnisecret.update")).toHaveLength(3); // two, and the rollback's
      expect(byName("omnisecret.delete")).toHaveLength(3);
      expect(byName("omnisecret.list")).toHaveLength(1);
      expect(byName("omnisecret.list_versions")).toHaveLength(1);
      expect(byName("omnisecret.rollback")).toHaveLength(1);
      const revisions = byName("omnisecret.get_revision");
      expect(revisions).toHaveLength(2);
      expect(revisions.filter((span) => span.status.code === 2).map((span) => span.status.message)).toEqual([
        "E_SECRET_NOT_FOUND",
      ]);
      for (const span of finished) {
        expect(span.attributes["omnisecret.provider"]).toBe(provider);
        expect(span.attributes["omnisecret.operation"]).toBe(span.name.slice("omnisecret.".length));
        expect(typeof span.attributes["omnisecret.requests"]).toBe("number");
        if (span.status.code === 2) {
          expect(span.status.message).toBe(span.attributes["omnisecret.error.code"]);
          expect(span.attributes["omnisecret.source"]).toBeUndefined();
        } else if (span.name === "omnisecret.get") expect(span.attributes["omnisecret.source"]).toBe("provider");
        else expect(span.attributes["omnisecret.source"]).toBeUndefined();
        expect(span.events).toEqual([]);
      }
      const [failedGet] = byName("omnisecret.get").filter((span) => span.status.code === 2);
      expect(failedGet?.attributes["omnisecret.error.code"]).toBe("E_SECRET_NOT_FOUND");
      // The rollback's get and update are its children.
      const [rollback] = byName("omnisecret.rollback");
      const children = finished.filter((span) => span.parentSpanContext?.spanId === rollback?.spanContext().spanId);
      expect(children.map((span) => span.name).sort()).toEqual(["omnisecret.get", "omnisecret.update"]);
      if (provider === "local") {
        // One SQL statement each, as the adapter's header counts them (BEGIN and COMMIT not).
        expect(byName("omnisecret.store")[0]?.attributes["omnisecret.requests"]).toBe(1);
        expect(byName("omnisecret.get")[0]?.attributes["omnisecret.requests"]).toBe(1);
        for (const span of revisions) expect(span.attributes["omnisecret.requests"]).toBe(1);
        expect(rollback?.attributes["omnisecret.requests"]).toBeGreaterThanOrEqual(2);
      }
    });

    it("records no value and no secret id by default, in any span or metric", async () => {
      const store = await SecretStore.create({ ...config(), cache: { ttlMs: 60_000 } });
      const { ids, values } = await exercise(store);
      await store.close();
      const texts = [...spans.getFinishedSpans().flatMap(spanTexts), ...(await metricTexts())];
      expect(texts.length).toBeGreaterThan(20);
      for (const text of texts) {
        for (const secret of [...values, ...ids]) expect(text).not.toContain(secret);
      }
    });

    it("with includeSecretIds, puts ids on spans and exceptions on failures, and still no value", async () => {
      const store = await SecretStore.create({ ...config(), telemetry: { includeSecretIds: true } });
      const { ids, values } = await exercise(store);
      await store.close();
      const finished = spans.getFinishedSpans();
      const texts = [...finished.flatMap(spanTexts), ...(await metricTexts())];
      for (const text of texts) for (const secret of values) expect(text).not.toContain(secret);
      const all = texts.join("\n");
      for (const id of ids) expect(all).toContain(id);
      const failed = finished.filter((span) => span.status.code === 2);
      expect(failed.length).toBeGreaterThan(0);
      for (const span of failed) expect(span.events.map((event) => event.name)).toEqual(["exception"]);
    });
  });
}

describe("telemetry of the read cache and metrics", () => {
  it("a cache hit makes no span; hits and misses are counted, durations and errors recorded", async () => {
    const store = await SecretStore.create({ provider: "memory", cache: { ttlMs: 60_000 } });
    const id = randomUUID();
    const hitsBefore = (await dataPoints("omnisecret.cache.hits")).reduce((sum, point) => sum + Number(point.value), 0);
    await store.storeSecretValues(id, { key: "v" });
    await store.getSecretValues(id); // a miss, then cached
    spans.reset();
    for (let i = 0; i < 5; i += 1) await store.getSecretValues(id);
    expect(spans.getFinishedSpans()).toEqual([]);
    const hits = (await dataPoints("omnisecret.cache.hits")).reduce((sum, point) => sum + Number(point.value), 0);
    expect(hits - hitsBefore).toBe(5);
    expect((await dataPoints("omnisecret.cache.misses")).length).toBeGreaterThan(0);
    await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    const errors = await dataPoints("omnisecret.errors");
    expect(errors.some((point) => point.attributes["omnisecret.error.code"] === "E_SECRET_NOT_FOUND")).toBe(true);
    const durations = await dataPoints("omnisecret.operation.duration");
    expect(durations.some((point) => point.attributes["omnisecret.operation"] === "get")).toBe(true);
    await store.close();
  });

  it("is off with telemetry.enabled false: no span, no metric of that store", async () => {
    const store = await SecretStore.create({ provider: "memory", telemetry: { enabled: false } });
    await store.storeSecretValues(randomUUID(), { key: "v" });
    expect(spans.getFinishedSpans()).toEqual([]);
    await store.close();
  });
});

describe("telemetry config", () => {
  it("reads OMNISECRET_TELEMETRY_* for any provider; a backup has none of its own; bad values are ConfigErrors", async () => {
    expect(
      configFromSources({
        env: {
          OMNISECRET_PROVIDER: "memory",
          OMNISECRET_TELEMETRY_ENABLED: "false",
          OMNISECRET_TELEMETRY_INCLUDE_SECRET_IDS: "yes",
        },
      }),
    ).toEqual({ provider: "memory", telemetry: { enabled: false, includeSecretIds: true } });
    // Shown by a store's inspect and toJSON, as the cache's fields are: nothing in it is secret.
    const store = await SecretStore.create({ provider: "memory", telemetry: { includeSecretIds: true } });
    expect(store.toJSON().telemetry).toEqual({ enabled: true, includeSecretIds: true });
    await store.close();
    await expect(
      SecretStore.create({ provider: "memory", backup: { provider: "memory", telemetry: { enabled: false } } }),
    ).rejects.toMatchObject({ code: "E_CONFIG", field: "backup.telemetry" });
    await expect(SecretStore.create({ provider: "memory", telemetry: { enabled: "no" } })).rejects.toMatchObject({
      code: "E_CONFIG",
      field: "telemetry.enabled",
    });
    await expect(SecretStore.create({ provider: "memory", telemetry: { sampled: true } })).rejects.toMatchObject({
      code: "E_CONFIG",
    });
  });
});
