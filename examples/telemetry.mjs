// omnisecret's OpenTelemetry spans and metrics, printed to the console.
//   npm install omnisecret @opentelemetry/api @opentelemetry/sdk-trace-node @opentelemetry/sdk-metrics
//
// To send them to a collector instead (OTLP over HTTP, port 4318), install
// @opentelemetry/exporter-trace-otlp-http and @opentelemetry/exporter-metrics-otlp-http and use
//   new BatchSpanProcessor(new OTLPTraceExporter())          in spanProcessors, and
//   new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter() })   in readers;
// they read OTEL_EXPORTER_OTLP_ENDPOINT (such as http://collector:4318). The provider SDKs'
// own HTTP or gRPC spans nest under omnisecret's when their instrumentations are registered
// too (@opentelemetry/instrumentation-http, -undici or -grpc).
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { metrics } from "@opentelemetry/api";
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { ConsoleSpanExporter, NodeTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { SecretStore } from "omnisecret";

// Registered before the first store is made: omnisecret loads @opentelemetry/api then.
const tracing = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] });
tracing.register();
const meters = new MeterProvider({
  readers: [new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 60_000 })],
});
metrics.setGlobalMeterProvider(meters);

// The embedded store, in a scratch folder; add `telemetry: { includeSecretIds: true }` to see ids on spans.
const path = join(mkdtempSync(join(tmpdir(), "omnisecret-telemetry-")), "secrets.db");
const store = await SecretStore.create({ provider: "local", path, cache: { ttlMs: 30_000 } });
const id = randomUUID();
await store.storeSecretValues(id, { DB_PASSWORD: "s3cret" }); // span omnisecret.store
await store.getSecretValues(id); // span omnisecret.get (a cache miss)
await store.getSecretValues(id); // a cache hit: no span, counted in omnisecret.cache.hits
await store.updateSecretValues(id, { DB_PASSWORD: "n3w-s3cret" }); // span omnisecret.update
await store.deleteSecretValues(id); // span omnisecret.delete
await store.close();

await meters.shutdown(); // exports the metrics one last time
await tracing.shutdown();
