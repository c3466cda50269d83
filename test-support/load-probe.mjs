// Usage: node --import ./record-imports.mjs load-probe.mjs '<config json>'
// Creates a store from the built package, runs store/get/delete, and prints the packages loaded.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { SecretStore } from "../dist/src/index.js";

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
for (const location of [...urls, ...required]) {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(decodeURIComponent(location));
  if (match) packages.add(match[1]);
}
process.stdout.write(JSON.stringify([...packages].sort()));
