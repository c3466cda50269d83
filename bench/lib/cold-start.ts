/**
 * Cold start: wall time (spawn to exit, measured here) and peak memory (the child's
 * `process.resourceUsage().maxRSS` at its end) of a fresh `node` process that loads omnisecret,
 * creates the store and reads one secret, against one that does the same with the raw SDK.
 * The two alternate; one unmeasured run of each warms the file cache first; medians are reported.
 *
 * Startup (`startup`): the same for omnisecret alone against bare `node`: a process that only
 * imports omnisecret, one that also creates a local store, and the CLI's `get` on a local store,
 * with the files and bytes a plain import loads.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { omnisecretEnvName } from "../../src/env-fields.js";
import { median } from "./stats.js";

const directory = join(import.meta.dirname, "..", "cold-start");
const root = join(import.meta.dirname, "..", "..");

export interface ColdRun {
  readonly wallMs: number;
  readonly maxRssKiB: number;
}

export interface ColdStartResult {
  readonly runs: number;
  readonly omnisecret: { wallMs: number; maxRssKiB: number; samples: ColdRun[] };
  readonly raw: { wallMs: number; maxRssKiB: number; samples: ColdRun[] };
}

function childEnv(): NodeJS.ProcessEnv {
  // The bench runs under tsx; its loader must not follow into the children.
  const { NODE_OPTIONS: _ignored, ...env } = process.env;
  return env;
}

/** The peak RSS a child reported: its stdout's JSON, or else the last line of its stderr (`rss.mjs`). */
function reportedRss(stdout: string, stderr: string): number {
  for (const text of [stdout, stderr.trimEnd().split("\n").at(-1) ?? ""]) {
    try {
      const parsed = JSON.parse(text) as { maxRssKiB?: unknown };
      if (typeof parsed.maxRssKiB === "number") return parsed.maxRssKiB;
    } catch {}
  }
  throw new Error("the child reported no peak RSS");
}

function runOnce(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ColdRun> {
  return new Promise((resolveRun, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, args, {
      env: { ...childEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = performance.now() - start;
      if (code !== 0) {
        reject(
          new Error(`cold start ${args[0]} exited with ${code}: ${stderr.trim().split("\n").slice(-5).join("\n")}`),
        );
        return;
      }
      try {
        resolveRun({ wallMs, maxRssKiB: reportedRss(stdout, stderr) });
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** `rawModule`: the URL of the provider's raw read (its test side's `coldStartRaw`, see raw.mjs). */
export async function coldStart(
  rawModule: string,
  config: Record<string, unknown>,
  id: string,
  runs: number,
): Promise<ColdStartResult> {
  const omnisecretArgs = [join(directory, "omnisecret.mjs"), JSON.stringify(config), id];
  const rawArgs = [join(directory, "raw.mjs"), rawModule, JSON.stringify(config), config.prefix as string, id];
  await runOnce(omnisecretArgs);
  await runOnce(rawArgs);
  const samples = { omnisecret: [] as ColdRun[], raw: [] as ColdRun[] };
  for (let run = 0; run < runs; run += 1) {
    const pair = run % 2 === 0 ? (["omnisecret", "raw"] as const) : (["raw", "omnisecret"] as const);
    for (const side of pair) samples[side].push(await runOnce(side === "omnisecret" ? omnisecretArgs : rawArgs));
  }
  return { runs, omnisecret: summary(samples.omnisecret), raw: summary(samples.raw) };
}

function summary(list: ColdRun[]): { wallMs: number; maxRssKiB: number; samples: ColdRun[] } {
  return {
    wallMs: median(list.map((run) => run.wallMs)),
    maxRssKiB: median(list.map((run) => run.maxRssKiB)),
    samples: list,
  };
}

/** Runs each case `runs` times, in an order that rotates from run to run; the first run of each is unmeasured. */
async function alternate<Name extends string>(
  cases: Record<Name, { args: readonly string[]; env?: NodeJS.ProcessEnv }>,
  runs: number,
): Promise<Record<Name, { wallMs: number; maxRssKiB: number; samples: ColdRun[] }>> {
  const names = Object.keys(cases) as Name[];
  const samples = Object.fromEntries(names.map((name) => [name, [] as ColdRun[]])) as Record<Name, ColdRun[]>;
  for (const name of names) await runOnce(cases[name].args, cases[name].env);
  for (let run = 0; run < runs; run += 1) {
    const order = names.map((_, index) => names[(index + run) % names.length] as Name);
    for (const name of order) samples[name].push(await runOnce(cases[name].args, cases[name].env));
  }
  return Object.fromEntries(names.map((name) => [name, summary(samples[name])])) as Record<
    Name,
    ReturnType<typeof summary>
  >;
}

export interface LoadedByImport {
  readonly files: number;
  readonly bytes: number;
  readonly packages: string[];
}

export interface StartupResult {
  readonly runs: number;
  /** `node` doing nothing. */
  readonly bare: { wallMs: number; maxRssKiB: number };
  /** `import("omnisecret")` and nothing else. */
  readonly import: { wallMs: number; maxRssKiB: number; loaded: LoadedByImport };
  /** The import, then `SecretStore.create` of a local store and its `close`. */
  readonly createLocal: { wallMs: number; maxRssKiB: number; loaded: LoadedByImport };
  /** `omnisecret get <id>` on a local store, the CLI's own process. */
  readonly cliGet: { wallMs: number; maxRssKiB: number };
}

/** What a fresh process running `startup.mjs <mode>` loads: files (ESM and CommonJS), bytes, npm packages. */
function loadedBy(mode: string, config: string): LoadedByImport {
  const scratch = mkdtempSync(join(tmpdir(), "omnisecret-startup-"));
  try {
    const output = execFileSync(
      process.execPath,
      ["--import", join(root, "test-support", "record-imports.mjs"), join(directory, "startup.mjs"), mode, config],
      { env: { ...childEnv(), OMNISECRET_IMPORT_LOG: join(scratch, "imports.log") }, encoding: "utf8" },
    );
    return JSON.parse(output) as LoadedByImport;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * A config as the CLI reads it from the environment: `OMNISECRET_PROVIDER`, `OMNISECRET_PREFIX`,
 * and each other field in its `OMNISECRET_<PROVIDER>_<FIELD>` variable (the store's fields here
 * are text: a path and a key).
 */
function cliEnvOf(config: Record<string, unknown>): Record<string, string> {
  const provider = String(config.provider);
  const env: Record<string, string> = { OMNISECRET_PROVIDER: provider, OMNISECRET_PREFIX: String(config.prefix) };
  for (const [field, value] of Object.entries(config)) {
    if (field !== "provider" && field !== "prefix") env[omnisecretEnvName(provider, field)] = String(value);
  }
  return env;
}

/**
 * Startup against bare `node`, on the store of `config`, the default provider's (see bench/run.ts), which holds `id`. Every process preloads
 * `rss.mjs` (bare `node` included), which reports its peak RSS.
 */
export async function startup(config: Record<string, unknown>, id: string, runs: number): Promise<StartupResult> {
  const rss = ["--import", join(directory, "rss.mjs")];
  const configJson = JSON.stringify(config);
  const cliEnv = cliEnvOf(config);
  const measured = await alternate(
    {
      bare: { args: [...rss, "-e", "0"] },
      import: { args: [...rss, join(directory, "startup.mjs"), "import"] },
      createLocal: { args: [...rss, join(directory, "startup.mjs"), "create", configJson] },
      cliGet: { args: [...rss, join(root, "dist", "src", "cli", "main.js"), "get", id], env: cliEnv },
    },
    runs,
  );
  const brief = (name: keyof typeof measured) => ({
    wallMs: measured[name].wallMs,
    maxRssKiB: measured[name].maxRssKiB,
  });
  return {
    runs,
    bare: brief("bare"),
    import: { ...brief("import"), loaded: loadedBy("import", configJson) },
    createLocal: { ...brief("createLocal"), loaded: loadedBy("create", configJson) },
    cliGet: brief("cliGet"),
  };
}
