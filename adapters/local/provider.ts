/** The embedded store: an encrypted SQLite database file on this machine (the default provider). The provider's definition; see `src/provider-definition.ts`. */
import { envField } from "../../src/env-fields.js";
import { defineProvider } from "../../src/provider-definition.js";

export const localProvider = defineProvider({
  name: "local",
  envFields: [
    envField("local", "path", "string"),
    envField("local", "key", "string", { secret: true }),
    envField("local", "busyTimeoutMs", "integer"),
    envField("local", "keepVersions", "integer"),
    envField("local", "maxValueBytes", "integer"),
  ],
  secretFields: ["key"],
  sdkPackages: ["better-sqlite3"],
  loadOptionsSchema: async () => (await import("./options.js")).localOptionsSchema,
  loadAdapter: async () => (await import("./index.js")).createLocalAdapter,
  // The file itself: the default path filled in, symbolic links resolved (loaded only when compared).
  embedded: true,
  locationFields: ["path"],
  location: async (config) => [(await import("./paths.js")).canonicalLocalStorePath(config.path)],
});
