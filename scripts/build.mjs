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
// what they share goes to dist/src/chunks/: src/'s other modules as one file, the core (see
// below), and chunks of what only some entry points share. npm packages stay imports (they are
// dependencies or optional peers the user installs), except valibot, which is bundled so only
// what the schemas use is loaded. The declarations (.d.ts) are tsc's, untouched; the JavaScript files tsc wrote
// that are now inside a bundle are removed, so nothing in dist/ is dead code.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
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

// The package's own entry points, and every module some code imports with `import("./...")`
// (src/telemetry.js too: it imports @opentelemetry/api, an optional peer the core must not load).
const packageEntries = ["src/index.js", "src/testing/index.js", "src/cli/main.js"].map((path) => join(dist, path));
const lazyTargets = jsFiles(dist).filter((file) => {
  const path = relative(dist, file).split(sep).join("/");
  return (
    /^adapters\/[^/]+\/(index|options)\.js$/.test(path) ||
    path === "src/custom-adapter.js" ||
    path === "src/telemetry.js"
  );
});
const entries = [...new Set([...packageEntries, ...lazyTargets])];

// The core, one file (issue 21): every module of src/ that is not an entry point, and what they
// import (each provider's definition, the parts of valibot they use). esbuild's splitting alone
// cut these into a chunk per set of entry points sharing a module, and a store's create and first
// get loaded twelve files of ours (the library, six chunks, the provider's options and adapter,
// three chunks more), each one more step of Node's ESM loader (resolving, reading, linking; in a
// CPU profile they took more than compiling the code). Now they load five: the library's exports,
// the core, the provider's options, the chunk of valibot the options schemas share, its adapter.
const core = join(dist, "src", "chunks", "core.js");
const coreModules = jsFiles(join(dist, "src")).filter(
  (file) => dirname(file) === join(dist, "src") && !entries.includes(file),
);
// Imports of a file that is written on its own are marked with this prefix and the path below
// dist/, and turned into a path relative to the importing file once all are written.
const OWN = "omnisecret-dist:";
const ownOutput = (path) => ({ path: OWN + relative(dist, path).split(sep).join("/"), external: true });
const common = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external,
  allowOverwrite: true,
  metafile: true,
  // tsc's output is already what the sources say; keep names readable in stack traces.
  minify: false,
  logLevel: "warning",
};

const lazyImports = new Set();
/** The core as an entry exporting all of the modules in `modules`; `coreInputs` is what it bundled. */
async function buildCore(modules, write) {
  return build({
    ...common,
    stdin: {
      contents: modules
        .map((file) => `export * from ${JSON.stringify(`./${relative(join(dist, "src"), file)}`)};`)
        .join("\n"),
      resolveDir: join(dist, "src"),
      sourcefile: "chunks/core.js",
    },
    outfile: core,
    write,
    plugins: [
      {
        // What is imported lazily (a provider's options and adapter, the local store's paths)
        // stays a file of its own, loaded when it is first needed, as before.
        name: "lazy-imports",
        setup(builder) {
          builder.onResolve({ filter: /^\.\.?\// }, (args) => {
            const path = resolve(args.resolveDir, args.path);
            if (!entries.includes(path) && args.kind !== "dynamic-import") return undefined;
            lazyImports.add(path);
            return ownOutput(path);
          });
        },
      },
    ],
  });
}
const ownInputs = (metafile) =>
  Object.keys(metafile.inputs)
    .map((path) => join(root, path))
    .filter((path) => path.startsWith(dist + sep) && path !== core);
// Twice: the core exports every module it bundles, so that an adapter importing one of them (a
// provider's definition, say) gets the core's, never a copy of its own.
const coreInputs = ownInputs((await buildCore(coreModules, false)).metafile);
const coreResult = await buildCore(coreInputs, true);

const result = await build({
  ...common,
  entryPoints: [...new Set([...entries, ...lazyImports])],
  outdir: dist,
  outbase: dist,
  entryNames: "[dir]/[name]",
  chunkNames: "src/chunks/[name]-[hash]",
  splitting: true,
  plugins: [
    {
      name: "core",
      setup(builder) {
        builder.onResolve({ filter: /^\.\.?\// }, (args) => {
          const path = resolve(args.resolveDir, args.path);
          return coreInputs.includes(path) ? ownOutput(core) : undefined;
        });
      },
    },
  ],
});

const outputs = [...Object.keys(coreResult.metafile.outputs), ...Object.keys(result.metafile.outputs)].map((path) =>
  join(root, path),
);
for (const file of outputs.filter((path) => path.endsWith(".js"))) {
  const text = readFileSync(file, "utf8");
  const linked = text.replaceAll(new RegExp(`"${OWN}([^"]+)"`, "g"), (_, path) => {
    const target = relative(dirname(file), join(dist, path)).split(sep).join("/");
    return JSON.stringify(target.startsWith(".") ? target : `./${target}`);
  });
  if (linked !== text) writeFileSync(file, linked);
}

const written = new Set(outputs);
for (const file of jsFiles(dist)) if (!written.has(file)) rmSync(file);
