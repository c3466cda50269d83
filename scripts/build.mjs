// `npm run build`: tsc, then a bundle of its output, for cold start (issue 13). The tests' global
// setup and the bench run this file too, so every dist/ is built the same way.
//
// Why the bundle: Node's ESM loader pays for every module it resolves, reads and links, and
// valibot ships as one 206 KB file of which the options schemas use a tenth: `import("omnisecret")`
// loaded 23 files and 300 KB, about 50 ms over bare `node`.
//
// What stays as it was: every path a user or a test names. The package's entry points
// (the library, `omnisecret/testing`, the CLI) and every module the code imports lazily (each
// provider's options schema and adapter, the custom adapter) are entry points of the bundle,
// written back to their own paths, so a provider's code still loads only when it is selected;
// what they share goes to dist/src/chunks/. npm packages stay imports (they are dependencies or
// optional peers the user installs), except valibot, which is bundled so only what the schemas
// use is loaded. The declarations (.d.ts) are tsc's, untouched; the JavaScript files tsc wrote
// that are now inside a bundle are removed, so nothing in dist/ is dead code.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
const dist = join(root, "dist");

execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
  cwd: root,
  stdio: "inherit",
});
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const BUNDLED_PACKAGES = new Set(["valibot"]);

const external = [
  ...Object.keys(manifest.dependencies ?? {}),
  ...Object.keys(manifest.peerDependencies ?? {}),
  ...Object.keys(manifest.optionalDependencies ?? {}),
]
  .filter((name) => !BUNDLED_PACKAGES.has(name))
  .flatMap((name) => [name, `${name}/*`]);

function jsFiles(directory) {
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".js"))
    .map((entry) => join(entry.parentPath, entry.name));
}

// The package's own entry points, and every module some code imports with `import("./...")`.
const packageEntries = ["src/index.js", "src/testing/index.js", "src/cli/main.js"].map((path) => join(dist, path));
const lazyTargets = jsFiles(dist).filter((file) => {
  const path = relative(dist, file).split(sep).join("/");
  return /^adapters\/[^/]+\/(index|options)\.js$/.test(path) || path === "src/custom-adapter.js";
});

const result = await build({
  entryPoints: [...new Set([...packageEntries, ...lazyTargets])],
  outdir: dist,
  outbase: dist,
  entryNames: "[dir]/[name]",
  chunkNames: "src/chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external,
  allowOverwrite: true,
  metafile: true,
  // tsc's output is already what the sources say; keep names readable in stack traces.
  minify: false,
  logLevel: "warning",
});

const written = new Set(Object.keys(result.metafile.outputs).map((path) => join(root, path)));
for (const file of jsFiles(dist)) if (!written.has(file)) rmSync(file);
