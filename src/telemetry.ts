/**
 * OpenTelemetry traces and metrics of a `SecretStore`, through `@opentelemetry/api` (an optional
 * peer). This module is imported by `loadTelemetry` only, once per process, by the first store
 * with telemetry enabled that finds an SDK registered; if the api is not installed that import
 * fails and the store runs without telemetry. With the api but no SDK registered, spans are non-recording and
 * everything beyond starting one is skipped.
 *
 * Never recorded: a value, a credential, an error's message or stack (messages name ids), and a
 * secret id unless `telemetry.includeSecretIds`.
 */
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { isSecretStoreError } from "./errors.js";
import { type AnswerSource, type OperationRecord, observeCircuits, setCurrentOperation } from "./telemetry-hooks.js";

/** The `telemetry` config field. */
export interface TelemetryOptions {
  /**
   * Spans and metrics through `@opentelemetry/api` when it is installed (and an SDK registered).
   * @default true
   */
  enabled?: boolean;
  /**
   * Put secret ids on spans (`omnisecret.secret.id`) and record the exception of a failure
   * (its message names the id). Off because in some teams ids are sensitive too.
   * @default false
   */
  includeSecretIds?: boolean;
}

/** The span names' operations: `omnisecret.<operation>`. */
export type TracedOperation =
  | "store"
  | "get"
  | "update"
  | "delete"
  | "get_many"
  | "list"
  | "list_versions"
  | "rollback"
  | "get_revision";

const READS: ReadonlySet<TracedOperation> = new Set(["get", "get_many"]);
const SCOPE = "omnisecret";
// Kept in step with package.json by hand: the instrumentation scope's version.
const SCOPE_VERSION = "0.1.0";

/** Hits and misses of one provider's read caches, counted in plain integers and reported by a callback. */
export interface CacheCounts {
  hits: number;
  misses: number;
}

/**
 * The recording operation travels in OpenTelemetry's context, beside its span, not in an
 * AsyncLocalStorage of its own: on Node 20 every AsyncLocalStorage that has run adds work to
 * every promise of the process, a cache hit's included, and the SDK's context manager already
 * carries the span. So requests are counted where spans nest: with a context
 * manager registered (NodeTracerProvider.register(), NodeSDK).
 */
const RECORD = createContextKey("omnisecret operation");
const currentRecord = (): Record | undefined => context.active().getValue(RECORD) as Record | undefined;
const cacheCounts = new Map<string, CacheCounts>();
const tracer: Tracer = trace.getTracer(SCOPE, SCOPE_VERSION);
/** The api's own no-op providers, which it answers with while no SDK is registered. */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();
const NOOP_METER = createNoopMeter().constructor;

/** Whether no SDK is registered, for traces or metrics: then an operation skips telemetry entirely. */
function idle(): boolean {
  if (!currentInstruments().noop) return false;
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_TRACER_PROVIDER;
}

/**
 * The instruments of the meter provider registered now. `metrics` has no proxy (unlike `trace`):
 * a meter taken before an SDK is registered stays a no-op, so they are made again when the
 * registered provider changes (an SDK registered after this module loaded).
 */
let instruments:
  | {
      provider: MeterProvider;
      /** The provider is the api's no-op one: no SDK registered for metrics. */
      noop: boolean;
      duration: Histogram;
      errors: ReturnType<Meter["createCounter"]>;
    }
  | undefined;

function currentInstruments(): NonNullable<typeof instruments> {
  const provider = metrics.getMeterProvider();
  if (instruments?.provider === provider) return instruments;
  const meter = provider.getMeter(SCOPE, SCOPE_VERSION);
  const duration = meter.createHistogram("omnisecret.operation.duration", {
    description: "Duration of omnisecret operations that reached a provider (cache hits excluded)",
    unit: "s",
  });
  const errors = meter.createCounter("omnisecret.errors", {
    description: "Failed omnisecret operations, by error code",
    unit: "{error}",
  });
  const hits = meter.createObservableCounter("omnisecret.cache.hits", {
    description: "Gets answered from the read cache",
    unit: "{hit}",
  });
  const misses = meter.createObservableCounter("omnisecret.cache.misses", {
    description: "Gets the read cache could not answer",
    unit: "{miss}",
  });
  const circuit = meter.createObservableGauge("omnisecret.circuit.state", {
    description: "Circuit breaker state per provider and side (primary, backup): 0 closed, 1 half open, 2 open",
  });
  // A hit costs one integer increment; the SDK reads the totals when it collects.
  meter.addBatchObservableCallback(
    (observer) => {
      for (const [provider, counts] of cacheCounts) {
        const attributes = { "omnisecret.provider": provider };
        observer.observe(hits, counts.hits, attributes);
        observer.observe(misses, counts.misses, attributes);
      }
    },
    [hits, misses],
  );
  circuit.addCallback((observer) => {
    for (const { provider, side, state } of observeCircuits())
      observer.observe(state, { "omnisecret.provider": provider, "omnisecret.circuit.side": side });
  });
  instruments = { provider, noop: meter.constructor === NOOP_METER, duration, errors };
  return instruments;
}

/** The recording operation of this async context (the kit's hooks read it). */
class Record implements OperationRecord {
  requests = 0;
  readonly provider: string;
  /** The operation's span in the context it ran in: where its requests' spans nest. */
  readonly context: Context;
  /** An enclosing operation (a rollback's get and update): it counts their requests too. */
  readonly #parent: Record | undefined;

  constructor(span: Span, provider: string, parent: Record | undefined) {
    this.provider = provider;
    this.context = trace.setSpan(context.active(), span).setValue(RECORD, this);
    this.#parent = parent;
  }

  count(requests = 1): void {
    for (let record: Record | undefined = this; record !== undefined; record = record.#parent) {
      record.requests += requests;
    }
  }

  attempt<T>(attempt: number, send: () => Promise<T>): Promise<T> {
    this.count();
    if (attempt < 2) return send();
    const span = tracer.startSpan(
      "omnisecret.retry",
      { attributes: { "omnisecret.attempt": attempt, "omnisecret.provider": this.provider } },
      this.context,
    );
    return context.with(trace.setSpan(this.context, span), send).then(
      (result) => {
        span.end();
        return result;
      },
      (error: unknown) => {
        // No message: a provider's error text may name the secret.
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        throw error;
      },
    );
  }
}

/** One operation in progress: `within` runs code inside its span (for each page of a list), `end` ends it. */
export interface OperationHandle {
  within<T>(run: () => Promise<T>): Promise<T>;
  /** Ends the operation; `error` when it failed, `source` where a get's answer came from (default `provider`). */
  end(error?: unknown, source?: AnswerSource): void;
}

/** A store's telemetry: its provider's cache counts and its operations' spans and metrics. */
export class StoreTelemetry {
  readonly cache: CacheCounts;
  readonly #provider: string;
  readonly #includeIds: boolean;

  constructor(provider: string, options: TelemetryOptions) {
    this.#provider = provider;
    this.#includeIds = options.includeSecretIds === true;
    let counts = cacheCounts.get(provider);
    if (counts === undefined) {
      counts = { hits: 0, misses: 0 };
      cacheCounts.set(provider, counts);
    }
    this.cache = counts;
    // Made now, so an SDK registered before the store is seen from its first operation.
    currentInstruments();
  }

  /** Runs one operation that reaches the adapter under its span; `sourceOf` says where a get's answer came from. */
  async run<T>(
    operation: TracedOperation,
    secretId: string | readonly string[] | undefined,
    run: () => Promise<T>,
    sourceOf?: (result: T) => AnswerSource,
  ): Promise<T> {
    // With the api but no SDK: no span, no clock, nothing to record (the A/A noise, measured).
    if (idle()) return run();
    const handle = this.begin(operation, secretId);
    let result: T;
    try {
      result = await handle.within(run);
    } catch (error) {
      handle.end(error);
      throw error;
    }
    handle.end(undefined, sourceOf?.(result));
    return result;
  }

  begin(operation: TracedOperation, secretId: string | undefined | readonly string[]): OperationHandle {
    const started = performance.now();
    const span = tracer.startSpan(`omnisecret.${operation}`);
    const recording = span.isRecording();
    let record: Record | undefined;
    if (recording) {
      const attributes: Attributes = {
        "omnisecret.provider": this.#provider,
        "omnisecret.operation": operation,
      };
      if (this.#includeIds && secretId !== undefined) {
        if (typeof secretId === "string") attributes["omnisecret.secret.id"] = secretId;
        else attributes["omnisecret.secret.ids"] = [...secretId];
      }
      span.setAttributes(attributes);
      record = new Record(span, this.#provider, currentRecord());
    }
    const provider = this.#provider;
    const includeIds = this.#includeIds;
    return {
      within: (run) => {
        if (record === undefined) return run();
        return context.with(record.context, run);
      },
      end: (error, source) => {
        const code = error === undefined ? undefined : errorCode(error);
        const { duration, errors } = currentInstruments();
        const attributes: Attributes = { "omnisecret.provider": provider, "omnisecret.operation": operation };
        // Where the answer came from: said of reads only (a write's answer is always the provider's).
        const answered = code === undefined && READS.has(operation) ? (source ?? "provider") : undefined;
        if (code !== undefined) {
          attributes["omnisecret.error.code"] = code;
          errors.add(1, attributes);
        } else if (answered !== undefined) attributes["omnisecret.source"] = answered;
        duration.record((performance.now() - started) / 1_000, attributes);
        if (record === undefined) return;
        span.setAttribute("omnisecret.requests", record.requests);
        if (answered !== undefined) span.setAttribute("omnisecret.source", answered);
        if (code !== undefined) {
          span.setAttribute("omnisecret.error.code", code);
          span.setStatus({ code: SpanStatusCode.ERROR, message: code });
          // The message and stack name the id (never a value): recorded only where ids may be.
          if (includeIds && error instanceof Error) span.recordException(error);
        }
        span.end();
      },
    };
  }
}

/** An error's stable code: a typed error's `code`; anything else is the caller's abort reason. */
function errorCode(error: unknown): string {
  return isSecretStoreError(error) ? error.code : "aborted";
}

setCurrentOperation(currentRecord);
