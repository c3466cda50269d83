// Installs the npm dependencies when they are missing or older than package-lock.json, so that
// `npm test` and `npm run demo` work as the first command on a fresh clone.
import { execSync } from "node:child_process";
import { existsSync, lstatSync, statSync } from "node:fs";

const installed = "node_modules/.package-lock.json";
const stale = !existsSync(installed) || statSync(installed).mtimeMs < statSync("package-lock.json").mtimeMs;
if (stale) {
  // `npm ci` empties node_modules first. When it is a link to another checkout's folder, that
  // would empty the other checkout's dependencies while its tests or bench run; leave it alone.
  if (existsSync("node_modules") && lstatSync("node_modules").isSymbolicLink()) {
    console.error(
      "omnisecret: node_modules is a symbolic link and looks older than package-lock.json; not running `npm ci`" +
        " through it (that would empty the folder it points to). Install in the checkout it points to, or" +
        " replace the link with a real folder.",
    );
    process.exit(1);
  }
  console.error("omnisecret: installing npm dependencies (npm ci)...");
  execSync("npm ci --no-audit --no-fund", { stdio: "inherit" });
}
