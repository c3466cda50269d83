import { z } from "zod";
import { cacheSchema, prefixSchema } from "../../src/config-schema.js";

export const localOptionsSchema = z.strictObject({
  provider: z.literal("local"),
  prefix: prefixSchema,
  /** The opt-in read cache: `{ ttlMs, maxEntries?, cacheNotFound? }`. @default off */
  cache: cacheSchema,
  /**
   * Path of the SQLite database file.
   * @default `<XDG data dir>/omnisecret/secrets.db` (`$XDG_DATA_HOME`, else `~/.local/share` on Linux)
   */
  path: z.string().min(1).optional(),
  /**
   * The AES-256 key that encrypts values at rest: 32 bytes, base64-encoded.
   * @default read from (or, for a new database, created in) the key file `<path>.key`, mode 0600
   */
  key: z.string().min(1).optional(),
  /**
   * Milliseconds a write waits for another process's write lock before failing.
   * @default 5000
   */
  busyTimeoutMs: z.number().int().nonnegative().default(5_000),
  /**
   * Limit on `JSON.stringify(values)` in UTF-8 bytes.
   * @default 65536
   */
  maxValueBytes: z.number().int().positive().default(65_536),
});

/** Options of the embedded store: an encrypted SQLite database on this machine. */
export type LocalOptions = z.input<typeof localOptionsSchema>;
export type ResolvedLocalOptions = z.output<typeof localOptionsSchema>;
