// Cold start through omnisecret: a fresh process imports the built package, creates the store
// and reads one secret. Usage: node omnisecret.mjs '<config json>' <id>
// Prints {"maxRssKiB": <peak resident set size>} when done.
import { SecretStore } from "../../dist/src/index.js";

const [configJson, id] = process.argv.slice(2);
const store = await SecretStore.create(JSON.parse(configJson));
const values = await store.getSecretValues(id);
await store.close();
if (Object.keys(values).length === 0) throw new Error("the secret read back empty");
process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }));
