// One process of `npx tsx bench/telemetry.ts`: node bench/telemetry-probe.mjs <mode> '<config
// json>' <cached gets> <gets>. Modes: off (no telemetry anywhere: the A/A pair), nosdk
// (@opentelemetry/api loaded, no SDK: non-recording spans), sdk (a real SDK registered: spans
// recorded and batched to an exporter that drops them, metrics aggregated by a reader).
// In each process two stores take turns, block by block: one with the mode's telemetry, one
// with `telemetry.enabled: false`, so the difference between them is omnisecret's own cost,
// measured under the same load (a shared machine's noise between processes is far larger).
// With the SDK registered the second store also pays the SDK's own cost (its context manager's
// async hooks on every await), which `sdkCost` shows against a process without the SDK.
// Prints medians over blocks: { cachedNs, cachedNsOff, getUs, getUsOff }.
import { randomUUID } from "node:crypto";
import { SecretStore } from "../dist/src/index.js";

const [mode, configJson, cachedArg, getsArg] = process.argv.slice(2);
const config = JSON.parse(configJson);
if (mode === "sdk") {
  const { metrics } = await import("@opentelemetry/api");
  const { MeterProvider, MetricReader } = await import("@opentelemetry/sdk-metrics");
  const { BatchSpanProcessor, NodeTracerProvider } = await import("@opentelemetry/sdk-trace-node");
  const dropped = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
  new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropped)] }).register();
  class Reader extends MetricReader {
    async onForceFlush() {}
    async onShutdown() {}
  }
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new Reader()] }));
}
const BLOCKS = 10;
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2;
};

/** Per-operation times (in the unit `scale` gives) of the two stores, BLOCKS blocks each, alternating. */
async function alternate(stores, id, count, scale) {
  const times = [[], []];
  const per = Math.max(1, Math.round(count / BLOCKS));
  for (const store of stores) for (let i = 0; i < per; i += 1) await store.getSecretValues(id); // warm-up
  for (let block = 0; block < BLOCKS; block += 1) {
    for (const [index, store] of (block % 2 === 0 ? stores : [...stores].reverse()).entries()) {
      const start = performance.now();
      for (let i = 0; i < per; i += 1) await store.getSecretValues(id);
      times[block % 2 === 0 ? index : 1 - index].push(((performance.now() - start) * scale) / per);
    }
  }
  return times.map(median);
}

const telemetry = { enabled: mode !== "off" };
const off = { enabled: false };
const id = randomUUID();
const cached = [
  await SecretStore.create({ ...config, telemetry, cache: { ttlMs: 600_000 } }),
  await SecretStore.create({ ...config, telemetry: off, cache: { ttlMs: 600_000 } }),
];
await cached[0].storeSecretValues(id, { username: "bench", password: "telemetry" });
const [cachedNs, cachedNsOff] = await alternate(cached, id, Number(cachedArg), 1e6);
const plain = [
  await SecretStore.create({ ...config, telemetry }),
  await SecretStore.create({ ...config, telemetry: off }),
];
const [getUs, getUsOff] = await alternate(plain, id, Number(getsArg), 1e3);
await plain[0].deleteSecretValues(id);
for (const store of [...cached, ...plain]) await store.close();
process.stdout.write(JSON.stringify({ cachedNs, cachedNsOff, getUs, getUsOff }));
