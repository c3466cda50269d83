/**
 * A real OpenTelemetry SDK for tests: spans to an in-memory exporter, metrics read on demand,
 * both registered globally (each vitest file runs in a process of its own).
 */
import { metrics } from "@opentelemetry/api";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

export class TestMetricReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export function registerTestSdk(): { spans: InMemorySpanExporter; reader: TestMetricReader } {
  const spans = new InMemorySpanExporter();
  const reader = new TestMetricReader();
  new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }).register();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  return { spans, reader };
}
