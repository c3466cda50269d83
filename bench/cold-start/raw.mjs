// Cold start with the raw SDK alone: a fresh process imports only the provider's SDK or client,
// sets it up as the provider's raw bench side (integration-tests/servers/<p>/bench-raw.ts) does
// and reads one secret with the fewest requests: by its name, which holds the owner and so says
// whose it is, so nothing is read for ownership. How is the provider's own: its test side's
// `coldStartRaw` module (integration-tests/servers/<p>/cold-start-raw.mjs), which exports
// `readSecret({ config, prefix, id, owner })`.
// Usage: node raw.mjs <module URL> '<config json>' <prefix> <id>
// Prints {"maxRssKiB": <peak resident set size>} when done.
const [moduleUrl, configJson, prefix, id] = process.argv.slice(2);
const config = JSON.parse(configJson);
const owner = config.owner ?? "default";

const { readSecret } = await import(moduleUrl);
const values = await readSecret({ config, prefix, id, owner });
if (Object.keys(values).length === 0) throw new Error("the secret read back empty");
process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }));
