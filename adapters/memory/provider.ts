/** An in-memory store for tests of applications; nothing outlives the process. The provider's definition; see `src/provider-definition.ts`. */
import { envField } from "../../src/env-fields.js";
import { defineProvider } from "../../src/provider-definition.js";

export const memoryProvider = defineProvider({
  name: "memory",
  envFields: [envField("memory", "maxValueBytes", "integer"), envField("memory", "keepVersions", "integer")],
  secretFields: [],
  sdkPackages: [],
  loadOptionsSchema: async () => (await import("./options.js")).memoryOptionsSchema,
  loadAdapter: async () => (await import("./index.js")).createMemoryAdapter,
  // Every memory store is a place of its own (no location), and dies with its process.
  durable: false,
  embedded: true,
  // Nothing to compare with: there is no SDK.
  benchBaseline: false,
});
