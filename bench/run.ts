/**
 * `npm run bench`: omnisecret against the raw SDK or client of every provider whose server the
 * integration harness can start (and the local store), on the same server in the same run.
 * Builds dist/ first, starts the servers it needs (or reuses those of `npm run servers:start`)
 * and stops them afterwards. Writes bench/results/latest.json and latest.md and prints the
 * tables, and (in a run with the default settings) puts them into the README between its
 * bench:latest markers. See the README's "Performance" section for the method.
 *
 * Settings (environment): BENCH_N (200 operations per sequential workload), BENCH_LOCAL_N
 * (25 x BENCH_N: the local store is fast enough that 200 operations last a few milliseconds),
 * BENCH_ROUNDS (10; keep it even), BENCH_CONCURRENCY (16), BENCH_MIXED_OPS (about 1000; local 25x),
 * BENCH_COLD_RUNS (7), BENCH_CACHED_GETS (1000000), BENCH_PROVIDERS (every provider with a raw side in integration-tests/servers/index.ts);
 * BENCH_AA=1 puts a second raw baseline in omnisecret's place, to show the noise floor.
 *
 * `npm run bench -- --scale` (or BENCH_SCALE=1) runs only the scale workload (bench/lib/scale.ts:
 * store N, get a sample, list, delete all, twice, per provider; BENCH_SCALE_N sets N) and updates
 * only its section of latest.md and its key of latest.json; a run without it keeps them.
 *
 * Besides throughput and requests per operation, each workload reports the TCP connections each
 * side opened (keep-alive at work, or not), and with the local store in the run, omnisecret's own
 * startup against bare `node` (import, import + create, the CLI's get; files and KB loaded).
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { backgroundServers, type RunningServer, startServer, stopServers } from "../integration-tests/harness/index.js";
import { freePort } from "../integration-tests/harness/process.js";
import { benchSideConfig, providerTestSides } from "../integration-tests/servers/index.js";
import { DEFAULT_PROVIDER } from "../src/config.js";
import type * as Omnisecret from "../src/index.js";
import { coldStart, type StartupResult, startup } from "./lib/cold-start.js";
import { MINIMUMS } from "./lib/minimums.js";
import {
  checkTargets,
  machineInfo,
  markdown,
  type NoiseFloor,
  type ProviderResult,
  readmeSummary,
  type Settings,
  summarizeColdStart,
  summarizeRounds,
} from "./lib/report.js";
import { scaleSectionOf, withScaleSection } from "./lib/scale.js";
import { benchScale } from "./lib/scale-run.js";
import { setting } from "./lib/settings.js";
import type { BenchSide, RawFactory } from "./lib/side.js";
import { median, round } from "./lib/stats.js";
import { cachedGets, MIXED_CYCLE, type RoundResult, runRound } from "./lib/workloads.js";

const root = join(import.meta.dirname, "..");
const resultsDir = join(import.meta.dirname, "results");
const began = performance.now();

const n = setting("BENCH_N", 200);
const concurrency = setting("BENCH_CONCURRENCY", 16);
const cyclesFor = (ops: number) => Math.max(1, Math.round(ops / (concurrency * MIXED_CYCLE.length)));
const cycles = cyclesFor(setting("BENCH_MIXED_OPS", 1_000));
const localScale = 25;
const settings: Settings = {
  n,
  localN: setting("BENCH_LOCAL_N", n * localScale),
  rounds: setting("BENCH_ROUNDS", 10),
  concurrency,
  mixedOps: cycles * concurrency * MIXED_CYCLE.length,
  coldRuns: setting("BENCH_COLD_RUNS", 7),
  cachedGets: setting("BENCH_CACHED_GETS", 1_000_000),
};
const localCycles = cycles * localScale;

const benchable = providerTestSides.filter((side) => side.loadBenchRaw !== undefined);
const providers =
  process.env.BENCH_PROVIDERS?.split(",")
    .map((name) => name.trim())
    .filter(Boolean) ?? benchable.map((side) => side.provider);

const rawFactories: Record<string, RawFactory> = {};
for (const side of benchable) {
  if (side.loadBenchRaw && providers.includes(side.provider)) rawFactories[side.provider] = await side.loadBenchRaw();
}

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const scale = process.argv.includes("--scale") || process.env.BENCH_SCALE === "1";

/** Formats a JSON file in Biome's format, so that `npm run lint` passes with the results committed. */
function formatJson(path: string): void {
  try {
    execFileSync(
      process.execPath,
      [join(root, "node_modules", "@biomejs", "biome", "bin", "biome"), "format", "--write", path],
      { cwd: root, stdio: "ignore" },
    );
  } catch {
    log(`could not format ${path} with Biome; run \`npx biome format --write bench/results\``);
  }
}

// 1. The build: the omnisecret side and the cold-start probes run dist/, as users do.
log("building dist/ ...");
execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
const { SecretStore } = (await import(pathToFileURL(join(root, "dist", "src", "index.js")).href)) as typeof Omnisecret;

// 2. The servers: reuse those of `npm run servers:start`, start the others on free ports.
const started: RunningServer[] = [];
const skipped: { provider: string; reason: string }[] = [];
const configs: Record<string, Record<string, unknown>> = {};
const scratch = mkdtempSync(join(tmpdir(), "omnisecret-bench-"));

async function cleanUp(): Promise<void> {
  // What prepareBenchServer changed is put back, on servers others' tests may share, before this run's stop.
  for (const side of benchable) {
    const config = configs[side.provider];
    if (!config || !side.restoreBenchServer) continue;
    await side
      .restoreBenchServer(config)
      .catch((error: unknown) => log(`${side.provider}: could not restore its server's settings: ${String(error)}`));
  }
  await stopServers(started.splice(0));
  rmSync(scratch, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the servers this run started`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const serverEnv: NodeJS.ProcessEnv = { ...process.env };
for (const side of providerTestSides) {
  // Free ports, so a test run using the default ports at the same time is not disturbed.
  if (side.portVariable) serverEnv[side.portVariable] ??= String(await freePort());
}
const reusable = backgroundServers();
for (const provider of providers) {
  if (!(provider in rawFactories)) {
    skipped.push({ provider, reason: "no baseline for this provider" });
    continue;
  }
  const side = providerTestSides.find((candidate) => candidate.provider === provider);
  // A store inside the process: no server, its own files in the scratch folder.
  if (side?.benchConfig) {
    configs[provider] = benchSideConfig(provider, scratch, {});
    continue;
  }
  // The scale workload runs some providers on a server of its own (see `scaleServerEnv`).
  const ownServerEnv = scale ? side?.scaleServerEnv : undefined;
  const background = ownServerEnv ? undefined : reusable.find((server) => server.provider === provider);
  if (background) {
    log(`${provider}: reusing the server from servers:start`);
    configs[provider] = background.config;
    continue;
  }
  try {
    log(`${provider}: starting its server ...`);
    const server = await startServer(provider, { env: { ...serverEnv, ...ownServerEnv } });
    started.push(server);
    configs[provider] = server.config;
    log(`${provider}: ready (install ${Math.round(server.installMs)} ms, start ${Math.round(server.startMs)} ms)`);
  } catch (error) {
    const reason =
      error instanceof Error ? `${error.message}${error.cause ? `: ${String(error.cause)}` : ""}` : String(error);
    log(`${provider}: its server could not be started, so it is left out: ${reason}`);
    skipped.push({ provider, reason: `its server could not be started: ${reason.split("\n")[0]}` });
  }
}

for (const side of benchable) {
  const config = configs[side.provider];
  if (config && side.prepareBenchServer) await side.prepareBenchServer(config);
}

// 3. The benchmarks, one provider at a time.
for (const side of benchable) if (configs[side.provider]) await side.countRequests?.();

if (scale) {
  try {
    await benchScale({ providers, configs, rawFactories, SecretStore, scratch, resultsDir, log, formatJson });
  } finally {
    await cleanUp();
  }
  log(`scale run done in ${round((performance.now() - began) / 1_000, 1)} s`);
  process.exit(0);
}

async function benchProvider(provider: string, config: Record<string, unknown>): Promise<ProviderResult> {
  const side = providerTestSides.find((candidate) => candidate.provider === provider);
  // A store inside the process is fast enough that the server providers' counts last milliseconds.
  const embedded = side?.benchConfig !== undefined;
  const opsPerPhase = embedded ? settings.localN : settings.n;
  const mixedCycles = embedded ? localCycles : cycles;
  const run = randomUUID().slice(0, 8);
  const omnisecret = await SecretStore.create({ ...config, prefix: `bench-o-${run}` });
  // A store inside the process: each side gets its own files (same setup), so neither reads
  // through the other's write-ahead log or B-tree pages; the servers are shared as they are.
  const ownConfig = () => benchSideConfig(provider, scratch, config);
  const raw = await (rawFactories[provider] as RawFactory)(ownConfig(), `bench-r-${run}`);
  // BENCH_AA=1: a second raw baseline in omnisecret's place, to see this machine's noise floor.
  const calibration =
    process.env.BENCH_AA === "1"
      ? await (rawFactories[provider] as RawFactory)(ownConfig(), `bench-a-${run}`)
      : undefined;
  const sides = { omnisecret: calibration ?? (omnisecret as BenchSide), raw };
  try {
    log(`${provider}: warming up`);
    // A full unmeasured round first: the SDKs' code paths (grpc-js, protobufjs, the AWS SDK's
    // middleware) take hundreds of calls before the JIT has settled on them.
    await runRound(sides, { round: 0, n: opsPerPhase, concurrency, cycles: mixedCycles });
    const rounds: RoundResult[] = [];
    for (let index = 0; index < settings.rounds; index += 1) {
      const roundStart = performance.now();
      rounds.push(await runRound(sides, { round: index, n: opsPerPhase, concurrency, cycles: mixedCycles }));
      log(`${provider}: round ${index + 1}/${settings.rounds} in ${Math.round(performance.now() - roundStart)} ms`);
    }
    const workloads = summarizeRounds(provider, rounds);

    log(`${provider}: cached gets`);
    const cachedStore = await SecretStore.create({ ...config, prefix: `bench-c-${run}`, cache: { ttlMs: 600_000 } });
    const cachedRuns = [];
    for (let index = 0; index < 3; index += 1) cachedRuns.push(await cachedGets(cachedStore, settings.cachedGets));
    await cachedStore.close();

    log(`${provider}: cold start`);
    const id = randomUUID();
    await omnisecret.storeSecretValues(id, { username: "cold", password: "start" });
    const rawModule = side?.coldStartRaw;
    if (!rawModule) log(`${provider}: its test side has no coldStartRaw, so its cold start is left out`);
    const cold = rawModule
      ? await coldStart(rawModule, { ...config, prefix: omnisecret.prefix }, id, settings.coldRuns)
      : undefined;
    await omnisecret.deleteSecretValues(id);

    return {
      provider,
      n: opsPerPhase,
      rounds: settings.rounds,
      mixedOps: mixedCycles * concurrency * MIXED_CYCLE.length,
      workloads,
      ...(cold ? { coldStart: summarizeColdStart(cold) } : {}),
      cachedGets: {
        count: settings.cachedGets,
        opsPerSec: round(median(cachedRuns.map((r) => r.opsPerSec)), 0),
        requests: cachedRuns.reduce((sum, r) => sum + r.requests, 0),
      },
    };
  } finally {
    await omnisecret.close();
    await raw.close();
    await calibration?.close();
  }
}

/** omnisecret's own startup against bare node, on the default store (the local one: no server, no SDK). */
async function benchStartup(config: Record<string, unknown>): Promise<StartupResult> {
  log("startup: omnisecret and its CLI against bare node");
  const store = await SecretStore.create({ ...config, prefix: `bench-s-${randomUUID().slice(0, 8)}` });
  const id = randomUUID();
  try {
    await store.storeSecretValues(id, { username: "cold", password: "start" });
    return await startup({ ...config, prefix: store.prefix }, id, settings.coldRuns);
  } finally {
    await store.deleteSecretValues(id).catch(() => undefined);
    await store.close();
  }
}

const results: ProviderResult[] = [];
let startupResult: StartupResult | undefined;
try {
  const defaultConfig = configs[DEFAULT_PROVIDER];
  if (defaultConfig) startupResult = await benchStartup(defaultConfig);
  for (const provider of providers) {
    const config = configs[provider];
    if (!config) continue;
    try {
      results.push(await benchProvider(provider, config));
    } catch (error) {
      log(`${provider}: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      skipped.push({
        provider,
        reason: `the benchmark failed: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  }
} finally {
  await cleanUp();
}

/** The last A/A run's results, if one was made (`BENCH_AA=1 npm run bench`). */
function readNoiseFloor(): NoiseFloor | undefined {
  try {
    const aa = JSON.parse(readFileSync(join(resultsDir, "aa-latest.json"), "utf8")) as {
      machine: { date: string };
      results: ProviderResult[];
    };
    return { date: aa.machine.date, results: aa.results };
  } catch {
    return undefined;
  }
}

// 4. The results.
const durationS = round((performance.now() - began) / 1_000, 1);
const calibrating = process.env.BENCH_AA === "1";
const stem = calibrating ? "aa-latest" : "latest";
const title = calibrating
  ? "# omnisecret benchmark: A/A calibration (`BENCH_AA=1`: a second raw baseline in omnisecret's place)"
  : "# omnisecret benchmark";
const machine = machineInfo();
const checks = checkTargets(results, { concurrency, startup: startupResult });
// An A/A run is its own noise floor: its ratio column already compares two identical baselines.
const noise = calibrating ? { date: machine.date, results } : readNoiseFloor();
const table = markdown(machine, settings, results, checks, skipped, durationS, startupResult, noise);
mkdirSync(resultsDir, { recursive: true });
// The scale workload's results (`--scale`) are kept from the run that made them.
const previous = (file: string) => {
  try {
    return readFileSync(join(resultsDir, file), "utf8");
  } catch {
    return undefined;
  }
};
const previousScale = calibrating
  ? undefined
  : (JSON.parse(previous(`${stem}.json`) ?? "{}") as { scale?: unknown }).scale;
writeFileSync(
  join(resultsDir, `${stem}.json`),
  `${JSON.stringify(
    {
      machine,
      settings,
      durationS,
      method: {
        alternation:
          "each round runs every workload once per side, the side going first swapping from workload to workload and round to round",
        requestCounting: {
          http: "diagnostics_channel http.client.request.start (and undici:request:create), process-wide",
          grpc: "grpc-js Channel.prototype.createCall wrapped: one per call sent, retries included (google-gax passes no interceptors to grpc-js)",
          sqlite: "better-sqlite3 Statement run/get/all/iterate wrapped; statements, not network requests",
        },
        coldStart:
          "fresh node processes, alternating; wall time spawn to exit measured by the parent, peak RSS from process.resourceUsage().maxRSS; one unmeasured warm-up run per side",
        startup:
          "the same for bare node (node -e 0), import of dist/ alone, import + create of a local store, and the CLI's get on it; every process preloads bench/cold-start/rss.mjs, which reports the peak RSS; files and bytes loaded from test-support/record-imports.mjs (ESM resolutions) and the require cache (CommonJS)",
        connections:
          "net.Socket.prototype.connect wrapped: every TCP connection the process opens, TLS and HTTP/2 included; per side and round",
      },
      startup: startupResult,
      results,
      targets: checks,
      minimums: MINIMUMS,
      skipped,
      ...(previousScale ? { scale: previousScale } : {}),
    },
    null,
    2,
  )}\n`,
);
formatJson(join(resultsDir, `${stem}.json`));
const previousMd = calibrating ? undefined : previous(`${stem}.md`);
writeFileSync(
  join(resultsDir, `${stem}.md`),
  withScaleSection(`${title}\n\n${table}`, previousMd && scaleSectionOf(previousMd)),
);
process.stdout.write(`\n${table}`);
log(`results written to bench/results/${stem}.json and ${stem}.md (${durationS} s)`);

// 5. The README shows a summary of the latest run with the default settings (the full tables are in latest.md).
const README_START = "<!-- bench:latest:start -->";
const README_END = "<!-- bench:latest:end -->";
const customized = Object.keys(process.env).some((name) => name.startsWith("BENCH_"));
if (customized) {
  log("README.md left as it is: BENCH_* settings were given, so this is not a default run");
} else {
  const readmePath = join(root, "README.md");
  const readme = readFileSync(readmePath, "utf8");
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start >= 0 && end > start) {
    const summary = readmeSummary(machine, results, checks, startupResult, noise);
    writeFileSync(readmePath, `${readme.slice(0, start + README_START.length)}\n\n${summary}\n${readme.slice(end)}`);
    log("README.md: the Performance summary is updated");
  }
}
