import { z } from "zod";
import { cacheSchema, prefixSchema } from "../../src/config-schema.js";

export const memoryOptionsSchema = z.strictObject({
  provider: z.literal("memory"),
  prefix: prefixSchema,
  /** The opt-in read cache: `{ ttlMs, maxEntries?, cacheNotFound? }`. @default off */
  cache: cacheSchema,
  /**
   * Limit on `JSON.stringify(values)` in UTF-8 bytes.
   * @default 65536
   */
  maxValueBytes: z.number().int().positive().default(65_536),
});

/** Options of the in-memory store: for tests of applications; everything is lost when the process ends. */
export type MemoryOptions = z.input<typeof memoryOptionsSchema>;
export type ResolvedMemoryOptions = z.output<typeof memoryOptionsSchema>;
