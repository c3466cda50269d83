// Usage: node --import ./record-imports.mjs load-probe.mjs '<config json>'
// Creates a store from the built package (after registering an OpenTelemetry SDK with
// OMNISECRET_PROBE_OTEL_SDK=1), runs store/get/delete (unless OMNISECRET_PROBE_OPERATIONS=0),
// and prints the npm packages and the package's own modules (paths below dist/) that were loaded.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { SecretStore } from "../dist/src/index.js";

if (process.env.OMNISECRET_PROBE_OTEL_SDK === "1") {
  // An OpenTelemetry SDK registered before the store, as an application that traces does.
  const { NodeTracerProvider } = await import("@opentelemetry/sdk-trace-node");
  new NodeTracerProvider().register();
}
if (process.env.OMNISECRET_PROBE_FAKE_OTEL_REGISTRY === "1") {
  // What a registered SDK leaves in the api's global registry, without the api (hidden by the test).
  globalThis[Symbol.for("opentelemetry.js.api.1")] = { version: "1.9.1", trace: {} };
}
const store = await SecretStore.create(JSON.parse(process.argv[2]));
if (process.env.OMNISECRET_PROBE_OPERATIONS !== "0") {
  const id = randomUUID();
  await store.storeSecretValues(id, { probe: "value" });
  await store.getSecretValues(id);
  await store.deleteSecretValues(id);
}
await store.close();

const urls = readFileSync(process.env.OMNISECRET_IMPORT_LOG, "utf8").split("\n").filter(Boolean);
const required = Object.keys(createRequire(import.meta.url).cache);
const packages = new Set();
const ownModules = new Set();
for (const location of [...urls, ...required]) {
  const path = decodeURIComponent(location);
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (match) packages.add(match[1]);
  else if (/\/dist\/(?:src|adapters)\//.test(path)) ownModules.add(path.replace(/^.*\/dist\//, ""));
}
process.stdout.write(JSON.stringify({ packages: [...packages].sort(), ownModules: [...ownModules].sort() }));
