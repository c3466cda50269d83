// One measurement of `npx tsx bench/telemetry.ts`, in a process of its own (a registered SDK
// cannot be taken back): node bench/telemetry-probe.mjs <mode> '<config json>' <cached> <gets>.
// Modes: off (telemetry.enabled false: @opentelemetry/api never loaded), nosdk (the api loaded,
// no SDK registered: non-recording spans), sdk (a real SDK: every span recorded, batched to an
// exporter that drops them, and metrics aggregated by a reader), sdkoff (that SDK registered,
// telemetry.enabled false: what the SDK itself costs every async call, omnisecret's spans aside).
// Prints { cachedNs, getUs }: per cached get in ns, per get that reaches the provider in µs.
import { randomUUID } from "node:crypto";
import { SecretStore } from "../dist/src/index.js";

const [mode, configJson, cachedArg, getsArg] = process.argv.slice(2);
const config = JSON.parse(configJson);
if (mode === "sdk" || mode === "sdkoff") {
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
const telemetry = { enabled: mode !== "off" && mode !== "sdkoff" };
const id = randomUUID();

const cachedStore = await SecretStore.create({ ...config, telemetry, cache: { ttlMs: 600_000 } });
await cachedStore.storeSecretValues(id, { username: "bench", password: "telemetry" });
const cached = Number(cachedArg);
for (let i = 0; i < cached / 10; i += 1) await cachedStore.getSecretValues(id); // warm-up
let start = performance.now();
for (let i = 0; i < cached; i += 1) await cachedStore.getSecretValues(id);
const cachedNs = ((performance.now() - start) * 1e6) / cached;
await cachedStore.close();

const store = await SecretStore.create({ ...config, telemetry });
const gets = Number(getsArg);
for (let i = 0; i < gets / 10; i += 1) await store.getSecretValues(id); // warm-up
start = performance.now();
for (let i = 0; i < gets; i += 1) await store.getSecretValues(id);
const getUs = ((performance.now() - start) * 1e3) / gets;
await store.deleteSecretValues(id);
await store.close();
process.stdout.write(JSON.stringify({ cachedNs, getUs }));
