// Startup of omnisecret itself, against bare `node`: `import` loads the built package and does
// nothing else; `create` also creates a local store from '<config json>' and closes it.
// Usage: node startup.mjs import | create '<config json>'
// With OMNISECRET_IMPORT_LOG set (and test-support/record-imports.mjs preloaded) it prints what
// the process loaded instead: {"files": n, "bytes": n, "packages": [...]}.
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const [mode, configJson] = process.argv.slice(2);
const { SecretStore } = await import("../../dist/src/index.js");
if (mode === "create") await (await SecretStore.create(JSON.parse(configJson))).close();
else if (mode !== "import") throw new Error(`unknown mode ${mode}`);

const log = process.env.OMNISECRET_IMPORT_LOG;
if (log) {
  const files = new Set();
  for (const url of readFileSync(log, "utf8").split("\n")) if (url.startsWith("file:")) files.add(fileURLToPath(url));
  // CommonJS modules required inside packages are not seen by the resolve hook.
  for (const path of Object.keys(createRequire(import.meta.url).cache)) files.add(path);
  files.delete(fileURLToPath(import.meta.url));
  let bytes = 0;
  const packages = new Set();
  for (const path of files) {
    bytes += statSync(path).size;
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    if (match) packages.add(match[1]);
  }
  process.stdout.write(JSON.stringify({ files: files.size, bytes, packages: [...packages].sort() }));
}
