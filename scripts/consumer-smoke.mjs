// The consumer smoke test: what a user gets from `npm install omnisecret`, checked on the packed
// tarball in fresh projects outside the repository.
//
//   node scripts/consumer-smoke.mjs [--node <version>]...   (for example --node 22 --node 24)
//
// Runs with the Node that runs it, plus each `--node` version from the npm registry (the `node`
// package, cached by npm). Needs a built dist/ (`npm run build`). Packages come from npm's cache
// where it has them. Ends with one line CI can read: "consumer smoke: OK ..." or
// "consumer smoke: FAILED ...", and exit code 0 or 1.
//
// Project "app" is a cloud user: omnisecret and @aws-sdk/client-secrets-manager, installed with
// install scripts allowed. Project "types" has no SDK at all: typescript, vitest and fast-check.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const work = mkdtempSync(join(tmpdir(), "omnisecret-consumer-"));
const otherVersions = process.argv.flatMap((arg, index, all) => (all[index - 1] === "--node" ? [arg] : []));
const failures = [];
const started = performance.now();

function check(name, fn) {
  try {
    fn();
    console.log(`ok - ${name}`);
  } catch (error) {
    failures.push(name);
    console.log(`not ok - ${name}\n  ${String(error?.stack ?? error).replaceAll("\n", "\n  ")}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Runs a command; returns { status, stdout, stderr } without throwing. */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 300_000, ...options });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a command that must succeed; returns its stdout. */
function ok(command, args, options = {}) {
  const result = run(command, args, options);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

const npmQuiet = ["--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"];

// --- The tarball -----------------------------------------------------------------------------
const packed = JSON.parse(ok("npm", ["pack", "--json", "--pack-destination", work], { cwd: root }));
const tarball = join(work, packed[0].filename);
const files = packed[0].files.map((file) => file.path);
console.log(`packed ${packed[0].filename}: ${files.length} files, ${packed[0].size} bytes`);

check("the tarball holds LICENSE, README, the build and its declarations, and no source maps or tests", () => {
  for (const wanted of ["LICENSE", "README.md", "package.json", "dist/src/index.js", "dist/src/index.d.ts"]) {
    assert(files.includes(wanted), `${wanted} missing`);
  }
  const dead = files.filter(
    (file) =>
      file.endsWith(".map") || /\.test(-helper)?\./.test(file) || (file.endsWith(".ts") && !file.endsWith(".d.ts")),
  );
  assert(dead.length === 0, `should not ship: ${dead.join(", ")}`);
  // Every built file has its source: nothing left over in dist/ from a file since removed. The
  // bundle's shared chunks have none of their own (scripts/build.mjs removes those of earlier builds).
  const stale = files
    .filter((file) => file.startsWith("dist/") && !file.startsWith("dist/src/chunks/"))
    .filter((file) => !existsSync(join(root, file.slice("dist/".length).replace(/\.d\.ts$|\.js$/, ".ts"))));
  assert(stale.length === 0, `built files without a source: ${stale.join(", ")}`);
});

check("package.json states license, engines, description and peer ranges", () => {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  assert(manifest.license === "MIT", "license");
  assert(/Azure Key Vault/.test(manifest.description) && !/being added/.test(manifest.description), "description");
  assert(typeof manifest.engines?.node === "string", "engines.node");
  assert(manifest.dependencies?.["better-sqlite3"] === undefined, "better-sqlite3 must not be a dependency");
  assert(manifest.peerDependenciesMeta?.["better-sqlite3"]?.optional === true, "better-sqlite3 an optional peer");
});

// --- A cloud user's project --------------------------------------------------------------------
const app = join(work, "app");
mkdirSync(app);
writeFileSync(join(app, "package.json"), `${JSON.stringify({ name: "app", private: true, type: "module" })}\n`);
ok("npm", ["install", ...npmQuiet, tarball, "@aws-sdk/client-secrets-manager"], { cwd: app });

check("installing omnisecret with the AWS SDK compiles nothing: no better-sqlite3, no install scripts", () => {
  const modules = join(app, "node_modules");
  assert(!existsSync(join(modules, "better-sqlite3")), "better-sqlite3 was installed");
  const native = [];
  const visit = (directory) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(directory, entry.name);
      if (entry.name.startsWith("@")) {
        visit(path);
        continue;
      }
      if (entry.name === ".bin") continue;
      const manifest = join(path, "package.json");
      if (existsSync(manifest)) {
        const { scripts = {} } = JSON.parse(readFileSync(manifest, "utf8"));
        if (scripts.preinstall || scripts.install || scripts.postinstall || existsSync(join(path, "binding.gyp"))) {
          native.push(entry.name);
        }
      }
      if (existsSync(join(path, "node_modules"))) visit(join(path, "node_modules"));
    }
  };
  visit(modules);
  assert(native.length === 0, `packages with install scripts or native builds: ${native.join(", ")}`);
});

/** The path of a Node binary from the npm registry, resolved once. */
function nodeBinary(version) {
  return ok("npx", ["--prefer-offline", "-y", `node@${version}`, "-p", "process.execPath"], {
    cwd: work,
    env: { ...process.env, npm_config_update_notifier: "false" },
  }).trim();
}

const nodes = [process.execPath, ...otherVersions.map(nodeBinary)];
const esmProbe = `
  import { SecretStore, SecretNotFoundError } from "omnisecret";
  const out = {};
  const memory = await SecretStore.create({ provider: "memory" });
  const id = crypto.randomUUID();
  await memory.storeSecretValues(id, { a: "b" });
  out.memory = (await memory.getSecretValues(id)).a;
  const aws = await SecretStore.create({ provider: "aws", region: "us-east-1" });
  out.aws = aws.provider;
  await aws.close();
  out.gcp = await SecretStore.create({ provider: "gcp", projectId: "my-project" }).then(() => "loaded", (e) => e.code + ": " + e.message);
  out.local = await SecretStore.create({ provider: "local", path: process.argv[1] }).then(
    async (store) => { await store.storeSecretValues(id, { local: "yes" }); const v = await store.getSecretValues(id); await store.close(); return v.local; },
    (e) => e.code + ": " + e.message,
  );
  out.notFound = await memory.getSecretValues(crypto.randomUUID()).catch((e) => e instanceof SecretNotFoundError);
  console.log(JSON.stringify(out));
`;

for (const node of nodes) {
  const version = ok(node, ["--version"]).trim();
  const [major, minor] = version.slice(1).split(".").map(Number);
  const hasNodeSqlite = major >= 23 || (major === 22 && minor >= 13);

  check(
    `${version}: ESM import; AWS loads, a missing SDK says what to install, the local store ${hasNodeSqlite ? "works without better-sqlite3" : "asks for better-sqlite3"}`,
    () => {
      const dbPath = join(work, `esm-${version}.db`);
      const result = run(node, ["--input-type=module", "-e", esmProbe, dbPath], { cwd: app });
      assert(result.status === 0, `exit ${result.status}: ${result.stderr}`);
      // On Node 20 the AWS SDK warns on stderr that its 2027 releases need Node 22; that warning is
      // the SDK's. omnisecret's own loading of node:sqlite must add nothing.
      assert(!result.stderr.includes("ExperimentalWarning"), `stderr: ${result.stderr}`);
      const out = JSON.parse(result.stdout);
      assert(out.memory === "b" && out.notFound === true, JSON.stringify(out));
      assert(out.aws === "aws", `aws: ${out.aws}`);
      assert(out.gcp.startsWith("E_CONFIG") && out.gcp.includes("npm install @google-cloud/secret-manager"), out.gcp);
      if (hasNodeSqlite) assert(out.local === "yes", `local: ${out.local}`);
      else assert(out.local.startsWith("E_CONFIG") && out.local.includes("npm install better-sqlite3"), out.local);
    },
  );

  check(`${version}: require("omnisecret") from CommonJS`, () => {
    const script = `const o = require("omnisecret"); if (typeof o.SecretStore !== "function") process.exit(1); console.log("ok")`;
    assert(ok(node, ["-e", script], { cwd: app }).trim() === "ok", "require");
  });

  check(`${version}: the omnisecret bin: --version; list and get on a store that does not exist create nothing`, () => {
    const bin = join(app, "node_modules", ".bin", "omnisecret");
    assert(ok(node, [bin, "--version"], { cwd: app }).trim() === "0.1.0", "--version");
    const home = mkdtempSync(join(work, "home-"));
    const env = { PATH: process.env.PATH, HOME: home, XDG_DATA_HOME: join(home, "data") };
    const id = "7f1b3c2e-0d4a-4e5b-9c6d-8e7f0a1b2c3d";
    const listed = run(node, [bin, "list"], { cwd: app, env });
    const got = run(node, [bin, "get", id], { cwd: app, env });
    if (hasNodeSqlite) {
      assert(listed.status === 0 && listed.stdout === "" && listed.stderr === "", JSON.stringify(listed));
      assert(got.status === 1 && got.stderr.includes("E_SECRET_NOT_FOUND"), JSON.stringify(got));
    } else {
      // No node:sqlite and no better-sqlite3: the local store cannot be used at all, and says why.
      for (const result of [listed, got]) {
        assert(result.status === 2 && result.stderr.includes("npm install better-sqlite3"), JSON.stringify(result));
      }
    }
    assert(!existsSync(join(home, "data")), "a read-only command created the store's directory");
    if (hasNodeSqlite) {
      const stored = run(node, [bin, "store", id, "k=v"], { cwd: app, env });
      assert(stored.status === 0 && stored.stderr === "", JSON.stringify(stored));
      const value = run(node, [bin, "get", id, "--key", "k"], { cwd: app, env });
      assert(value.status === 0 && value.stdout === "v" && value.stderr === "", JSON.stringify(value));
    }
  });
}

// --- Types and omnisecret/testing, without any SDK -----------------------------------------------
const types = join(work, "types");
mkdirSync(types);
writeFileSync(join(types, "package.json"), `${JSON.stringify({ name: "types", private: true, type: "module" })}\n`);
const devVersions = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies;
ok(
  "npm",
  [
    "install",
    ...npmQuiet,
    "--ignore-scripts",
    tarball,
    `typescript@${devVersions.typescript}`,
    `@types/node@${devVersions["@types/node"]}`,
    `vitest@${devVersions.vitest}`,
    `fast-check@${devVersions["fast-check"]}`,
  ],
  { cwd: types },
);
writeFileSync(
  join(types, "consumer.ts"),
  `import {
  ConfigError,
  type OmnisecretConfig,
  type ProviderOptions,
  SecretStore,
  type SecretsAdapter,
  isSecretStoreError,
} from "omnisecret";
import { markedSecretValue, testSecretsAdapter, valuesOfSerializedSize } from "omnisecret/testing";

// Every provider's config compiles without its SDK installed; injected clients are structural.
const configs: OmnisecretConfig[] = [
  { provider: "local", path: "./secrets.db" },
  { provider: "memory" },
  { provider: "aws", region: "us-east-1", client: { send: async () => ({}), destroy: () => undefined } },
  { provider: "gcp", projectId: "p" },
  { provider: "azure", vaultUrl: "https://v.vault.azure.net", credential: { getToken: async () => null } },
  { provider: "vault", token: "t" },
  { provider: "custom", module: "./adapter.mjs" },
];
const aws: ProviderOptions<"aws"> = { provider: "aws", maxAttempts: 2 };
export async function use(): Promise<number> {
  const store = await SecretStore.create(configs[0] ?? aws);
  try {
    await store.getSecretValues(crypto.randomUUID());
  } catch (error) {
    if (error instanceof ConfigError || isSecretStoreError(error)) return 1;
  }
  const adapter: SecretsAdapter | undefined = undefined;
  void adapter;
  void testSecretsAdapter;
  return Object.keys(valuesOfSerializedSize(100)).length + markedSecretValue().length;
}
`,
);
const tsc = join(types, "node_modules", "typescript", "bin", "tsc");
for (const [module, moduleResolution] of [
  ["node16", "node16"],
  ["nodenext", "nodenext"],
  ["esnext", "bundler"],
]) {
  check(`tsc --moduleResolution ${moduleResolution} with skipLibCheck false and no SDK installed`, () => {
    const args = [tsc, "--noEmit", "--strict", "--skipLibCheck", "false", "--target", "es2022", "--types", "node"];
    ok(process.execPath, [...args, "--module", module, "--moduleResolution", moduleResolution, "consumer.ts"], {
      cwd: types,
    });
  });
}

check("omnisecret/testing: the contract suite runs in vitest on the README's example adapter", () => {
  copyFileSync(join(root, "examples", "directory-adapter.mjs"), join(types, "directory-adapter.mjs"));
  writeFileSync(
    join(types, "directory.test.mjs"),
    `import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testSecretsAdapter } from "omnisecret/testing";
import createDirectoryAdapter from "./directory-adapter.mjs";
const directory = mkdtempSync(join(tmpdir(), "omnisecret-consumer-dir-"));
testSecretsAdapter("directory", { createAdapter: (context) => createDirectoryAdapter({ directory }, context) });
`,
  );
  const out = ok(process.execPath, [join(types, "node_modules", "vitest", "vitest.mjs"), "run", "directory.test.mjs"], {
    cwd: types,
    env: { ...process.env, CI: "1", NO_COLOR: "1" },
  });
  assert(/Tests\s+\d+ passed/.test(out) && !/failed/.test(out), out);
});

const seconds = Math.round((performance.now() - started) / 1000);
const versions = nodes.map((node) => ok(node, ["--version"]).trim()).join(", ");
if (failures.length > 0) {
  console.log(
    `consumer smoke: FAILED ${failures.length} check(s) on ${versions} in ${seconds} s: ${failures.join("; ")}`,
  );
  process.exitCode = 1;
} else {
  console.log(`consumer smoke: OK on ${versions} in ${seconds} s (${work})`);
}
