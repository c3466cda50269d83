/**
 * vitest global setup: tests that start child processes (the CLI, the lazy-loading check,
 * several writers on one database) run the built package in dist/, so make sure it is current.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function newestMtime(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const root = join(import.meta.dirname, "..");
  const marker = join(root, "dist", "src", "index.js");
  const sources = Math.max(newestMtime(join(root, "src")), newestMtime(join(root, "adapters")));
  if (existsSync(marker) && statSync(marker).mtimeMs >= sources) return;
  // `npm run build`: tsc, then the bundle.
  execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
}
