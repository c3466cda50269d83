import * as v from "valibot";
import { cacheSchema, circuitBreakerSchema, integer, prefixSchema, telemetrySchema } from "../../src/config-schema.js";

export const localOptionsSchema = v.strictObject({
  provider: v.literal("local"),
  prefix: prefixSchema,
  /** The opt-in read cache: `{ ttlMs, maxEntries?, cacheNotFound?, staleIfErrorMs? }`. @default off */
  cache: cacheSchema,
  /** The opt-in circuit breaker: `{ failureThreshold?, openMs? }`. @default off */
  circuitBreaker: circuitBreakerSchema,
  /** OpenTelemetry spans and metrics: `{ enabled?, includeSecretIds? }`. @default `{ enabled: true, includeSecretIds: false }` */
  telemetry: telemetrySchema,
  /**
   * Path of the SQLite database file.
   * @default `<XDG data dir>/omnisecret/secrets.db` (`$XDG_DATA_HOME`, else `~/.local/share` on Linux)
   */
  path: v.optional(v.pipe(v.string(), v.minLength(1))),
  /**
   * The AES-256 key that encrypts values at rest: 32 bytes, base64-encoded.
   * @default read from (or, for a new database, created in) the key file `<path>.key`, mode 0600
   */
  key: v.optional(v.pipe(v.string(), v.minLength(1))),
  /**
   * Milliseconds a write waits for another process's write lock before failing.
   * @default 5000
   */
  busyTimeoutMs: v.optional(integer(0), 5_000),
  /**
   * Versions of each secret readable through omnisecret, the current one included (1-100): with
   * 2, the values an update replaced stay readable as `"previous"` until the next update. Each
   * kept version is a row of the database file (at most `maxValueBytes` each), so 100 bounds a
   * secret's history at about 6.5 MB with the default limit; an update with 2 or more costs 4 SQL
   * statements in one transaction instead of 1. Versions beyond it are deleted from the file at
   * the next such update.
   * @default 1
   */
  keepVersions: v.optional(integer(1, 100), 1),
  /**
   * Limit on `JSON.stringify(values)` in UTF-8 bytes.
   * @default 65536
   */
  maxValueBytes: v.optional(integer(1), 65_536),
});

/** Options of the embedded store: an encrypted SQLite database on this machine. */
export type LocalOptions = v.InferInput<typeof localOptionsSchema>;
export type ResolvedLocalOptions = v.InferOutput<typeof localOptionsSchema>;
