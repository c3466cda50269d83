/**
 * Telemetry against real servers, through the fault proxy: a get whose first answer is lost is
 * retried, and its span shows two requests and a child span for the retry. Vault retries in the
 * kit's RequestRunner, aws in its SDK (counted by a middleware below the SDK's retry step), azure
 * in its SDK too (counted by a perRetry pipeline policy).
 * Nothing recorded carries a value or, by default, an id. Blackholed, with the read cache's
 * `staleIfErrorMs` and a circuit breaker: the stale answer's span says so, and the circuit-state
 * gauge shows the breaker open.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { registerTestSdk } from "../test-support/otel.js";
import { faultProxyOpener } from "./fault-suite.js";
import { serverConfig } from "./server-config.js";

const { spans, reader } = registerTestSdk();

/** The circuit-state gauge's points now. */
async function circuitStates(): Promise<{ provider: unknown; side: unknown; state: unknown }[]> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .filter((metric) => metric.descriptor.name === "omnisecret.circuit.state")
    .flatMap((metric) =>
      metric.dataPoints.map((point) => ({
        provider: point.attributes["omnisecret.provider"],
        side: point.attributes["omnisecret.circuit.side"],
        state: point.value,
      })),
    );
}

for (const provider of ["vault", "aws", "azure"]) {
  describe(`telemetry on ${provider}`, () => {
    const open = faultProxyOpener(provider, serverConfig(provider), "otel");

    it("a retried get: two requests on its span, the retry a child span; no value, no id", async () => {
      const { proxy, store } = await open();
      const id = randomUUID();
      const value = `seed-${randomUUID()}`;
      await store.storeSecretValues(id, { key: value });
      await store.getSecretValues(id); // warm: any sign-in or setup request happens here
      spans.reset();
      proxy.set({ kind: "lose-response", times: 1 });
      expect(await store.getSecretValues(id)).toEqual({ key: value });
      expect(proxy.lostResponses).toBe(1);
      const finished = spans.getFinishedSpans();
      const get = finished.find((span) => span.name === "omnisecret.get");
      expect(get?.attributes).toMatchObject({
        "omnisecret.provider": provider,
        "omnisecret.operation": "get",
        "omnisecret.requests": 2,
        "omnisecret.source": "provider",
      });
      const retries = finished.filter((span) => span.name === "omnisecret.retry");
      expect(retries).toHaveLength(1);
      expect(retries[0]?.parentSpanContext?.spanId).toBe(get?.spanContext().spanId);
      expect(retries[0]?.attributes["omnisecret.attempt"]).toBe(2);

      await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      await store.deleteSecretValues(id);
      const { resourceMetrics } = await reader.collect();
      const texts = [
        ...spans
          .getFinishedSpans()
          .map((span) => JSON.stringify([span.name, span.attributes, span.events, span.status])),
        JSON.stringify(
          resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics.map((metric) => metric.dataPoints)),
        ),
      ];
      for (const text of texts) {
        expect(text).not.toContain(value);
        expect(text).not.toContain(id);
      }
    });

    it("blackholed: a stale answer's span says stale_cache; the breaker's gauge says open", async () => {
      const { proxy, store } = await open({
        cache: { ttlMs: 1, staleIfErrorMs: 600_000 },
        circuitBreaker: { failureThreshold: 1, openMs: 600_000 },
      });
      const id = randomUUID();
      const value = `seed-${randomUUID()}`;
      await store.storeSecretValues(id, { key: value });
      await store.getSecretValues(id);
      await sleep(5); // past ttlMs: the entry is stale from here on
      proxy.set({ kind: "blackhole" });
      try {
        spans.reset();
        // Closed: the request times out (FAULT_LIMITS), the stale entry answers, the breaker opens.
        expect(await store.getSecretValues(id)).toEqual({ key: value });
        // Open: no request at all.
        const sent = proxy.accepted;
        expect(await store.getSecretValues(id)).toEqual({ key: value });
        expect(proxy.accepted).toBe(sent);
        const gets = spans.getFinishedSpans().filter((span) => span.name === "omnisecret.get");
        expect(gets.map((span) => span.attributes["omnisecret.source"])).toEqual(["stale_cache", "stale_cache"]);
        expect(gets.map((span) => span.attributes["omnisecret.error.code"])).toEqual([undefined, undefined]);
        expect(gets[1]?.attributes["omnisecret.requests"]).toBe(0);
        expect(await circuitStates()).toContainEqual({ provider, side: "primary", state: 2 });
      } finally {
        proxy.set({ kind: "pass" });
      }
    });

    it("with includeSecretIds, the id is on the span", async () => {
      const { store } = await open({ telemetry: { includeSecretIds: true } });
      const id = randomUUID();
      spans.reset();
      await store.storeSecretValues(id, { key: "v" });
      await store.deleteSecretValues(id);
      // A retry span has no id: azure's first request of a client is sent twice (the SDK answers
      // the vault's bearer challenge and replays it), counted as a second attempt.
      const ids = spans
        .getFinishedSpans()
        .filter((span) => span.name !== "omnisecret.retry")
        .map((span) => span.attributes["omnisecret.secret.id"]);
      expect(ids).toEqual([id, id]);
    });
  });
}
