import * as v from "valibot";
import { cacheSchema, circuitBreakerSchema, integer, prefixSchema, telemetrySchema } from "../../src/config-schema.js";

export const memoryOptionsSchema = v.strictObject({
  provider: v.literal("memory"),
  prefix: prefixSchema,
  /** The opt-in read cache: `{ ttlMs, maxEntries?, cacheNotFound?, staleIfErrorMs? }`. @default off */
  cache: cacheSchema,
  /** The opt-in circuit breaker: `{ failureThreshold?, openMs? }`. @default off */
  circuitBreaker: circuitBreakerSchema,
  /** OpenTelemetry spans and metrics: `{ enabled?, includeSecretIds? }`. @default `{ enabled: true, includeSecretIds: false }` */
  telemetry: telemetrySchema,
  /**
   * Limit on `JSON.stringify(values)` in UTF-8 bytes.
   * @default 65536
   */
  maxValueBytes: v.optional(integer(1), 65_536),
  /**
   * How many versions of each secret stay readable: the latest `keepVersions`, through
   * `getSecretValues(id, { version })` ("previous" needs 2); older ones are dropped at each update.
   * @default 1
   */
  keepVersions: v.optional(integer(1, 1000), 1),
});

/** Options of the in-memory store: for tests of applications; everything is lost when the process ends. */
export type MemoryOptions = v.InferInput<typeof memoryOptionsSchema>;
export type ResolvedMemoryOptions = v.InferOutput<typeof memoryOptionsSchema>;
