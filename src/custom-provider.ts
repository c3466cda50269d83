/** Custom adapters (a module named by the config builds the adapter): the provider's definition. */
import { envField } from "./env-fields.js";
import { defineProvider } from "./provider-definition.js";

export const customProvider = defineProvider({
  name: "custom",
  envFields: [
    envField("custom", "module", "string"),
    envField("custom", "options", "json", { secret: true }),
    envField("custom", "createTimeoutMs", "integer"),
  ],
  secretFields: ["options"],
  sdkPackages: [],
  loadOptionsSchema: async () => (await import("./custom-adapter.js")).customOptionsSchema,
  loadAdapter: async () => (await import("./custom-adapter.js")).createCustomAdapter,
  // Opaque options: the same module with equal options is taken to be the same place.
  locationFields: ["module", "options"],
  location: (config) => [config.module, JSON.stringify(config.options ?? null)],
});
