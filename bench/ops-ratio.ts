/**
 * `npx tsx bench/ops-ratio.ts`: omnisecret against the raw side on the four sequential workloads
 * only (store, get, update, delete of the same fresh ids), on servers that are already running
 * (`integration-tests/.servers.json`, from `npm run servers:start`), in interleaved rounds in one
 * process. For checking one provider's per-operation overhead quickly and with many rounds,
 * without the full `npm run bench` (mixed, cached gets, cold start, result files). It writes
 * nothing; it prints per round and the medians of the per-round ratios, as `npm run bench` does.
 *
 * Settings (environment): BENCH_PROVIDERS (gcp), BENCH_N (100 operations per workload and
 * round), BENCH_ROUNDS (8; keep it even, the side going first swaps from round to round),
 * BENCH_SKIP_BUILD=1 (run the dist/ already built), BENCH_PAIRED=1 (the sides take turns
 * operation by operation rather than phase by phase: `runPairedRound` in bench/lib/workloads.ts;
 * on a machine shared with other work the per-round ratios then spread far less).
 *
 * BENCH_CPU_PROFILE=<file> writes a CPU profile of the measured rounds (the warm-up round and
 * the startup left out; sampled every 100 µs). `node bench/lib/cpu-profile-summary.mjs <file>
 * <operations per side> --sides` splits it by side: a sample counts for omnisecret when a frame of
 * its stack is omnisecret's code (dist/), for raw when one is the raw side's, and as shared
 * otherwise (what the SDK does when an answer arrives, before it resumes either side's code).
 * BENCH_ONLY=omnisecret or raw runs that side alone (the rounds, not the ratios), to profile one
 * side without the other.
 *
 * Besides the time per operation, each side's CPU time per operation (this process's, from
 * `process.cpuUsage()`) is printed: on a machine shared with other work it varies less than the
 * wall time, as time spent waiting for a core is not in it.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { providerTestSides } from "../integration-tests/servers/index.js";
import type * as Omnisecret from "../src/index.js";
import { setting } from "./lib/settings.js";
import type { BenchSide } from "./lib/side.js";
import { median, round } from "./lib/stats.js";
import { type RoundResult, runPairedRound, runRound, SEQUENTIAL, type SideName } from "./lib/workloads.js";

const root = join(import.meta.dirname, "..");

const n = setting("BENCH_N", 100);
const rounds = setting("BENCH_ROUNDS", 8);
const paired = process.env.BENCH_PAIRED === "1";
const only = process.env.BENCH_ONLY as SideName | undefined;
if (only !== undefined && only !== "omnisecret" && only !== "raw") throw new Error("BENCH_ONLY: omnisecret or raw");
const profileFile = process.env.BENCH_CPU_PROFILE;
const providers = (process.env.BENCH_PROVIDERS ?? "gcp").split(",").map((name) => name.trim());
const log = (message: string) => process.stderr.write(`[ops-ratio] ${message}\n`);

if (process.env.BENCH_SKIP_BUILD !== "1") {
  log("building dist/ ...");
  execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
}
const { SecretStore } = (await import(pathToFileURL(join(root, "dist", "src", "index.js")).href)) as typeof Omnisecret;
const configs = JSON.parse(readFileSync(join(root, "integration-tests", ".servers.json"), "utf8")) as Record<
  string,
  Record<string, unknown>
>;
for (const side of providerTestSides) if (providers.includes(side.provider)) await side.countRequests?.();

/** A side that does nothing, in place of the one left out with BENCH_ONLY. */
const idle: BenchSide = {
  storeSecretValues: async () => undefined,
  getSecretValues: async () => ({}),
  updateSecretValues: async () => undefined,
  deleteSecretValues: async () => undefined,
  close: async () => undefined,
};

for (const provider of providers) {
  const config = configs[provider];
  const side = providerTestSides.find((entry) => entry.provider === provider);
  if (!config || !side?.loadBenchRaw) throw new Error(`${provider}: no running server or no raw side`);
  await side.prepareBenchServer?.(config);
  const run = randomUUID().slice(0, 8);
  const omnisecret = await SecretStore.create({ ...config, prefix: `bench-o-${run}` });
  const raw = await (await side.loadBenchRaw())(config, `bench-r-${run}`);
  const sides = {
    omnisecret: only === "raw" ? idle : (omnisecret as BenchSide),
    raw: only === "omnisecret" ? idle : raw,
  };
  try {
    const oneRound = (round: number) =>
      paired ? runPairedRound(sides, { round, n }) : runRound(sides, { round, n, concurrency: 1, cycles: 1 });
    // An unmeasured round first, for the JIT.
    await oneRound(0);
    const profiler = profileFile ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post("Profiler.enable");
      await profiler.post("Profiler.setSamplingInterval", { interval: 100 });
      await profiler.post("Profiler.start");
    }
    const results: RoundResult[] = [];
    for (let index = 0; index < rounds; index += 1) {
      const result = await oneRound(index);
      results.push(result);
      const line = SEQUENTIAL.map((operation) => {
        const { omnisecret: o, raw: r } = result[operation];
        const us = (sample: { ms: number; ops: number }) => round((sample.ms / sample.ops) * 1_000, 0);
        const cpu = (sample: { cpuUs: number; ops: number }) => round(sample.cpuUs / sample.ops, 0);
        return `${operation} ${us(o)}/${us(r)} µs, cpu ${cpu(o)}/${cpu(r)} (${o.requests / o.ops}/${r.requests / r.ops} req)`;
      }).join(", ");
      log(`${provider} round ${index + 1}/${rounds}: ${line}`);
    }
    if (profiler && profileFile) {
      const { profile } = await profiler.post("Profiler.stop");
      writeFileSync(profileFile, JSON.stringify(profile));
      profiler.disconnect();
      log(`${provider}: CPU profile of ${rounds * n} operations per workload and side written to ${profileFile}`);
    }
    if (only !== undefined) continue;
    for (const operation of SEQUENTIAL) {
      const ratios = results.map((r) => r[operation].raw.ms / r[operation].omnisecret.ms);
      const us = (name: SideName) =>
        round(median(results.map((r) => (r[operation][name].ms / r[operation][name].ops) * 1_000)), 1);
      const cpu = (name: SideName) =>
        round(median(results.map((r) => r[operation][name].cpuUs / r[operation][name].ops)), 1);
      // Less moved by a stall of a few operations than the throughput: each round's median latencies.
      const latencyRatios = results.map(
        (r) => median(r[operation].raw.latenciesMs) / median(r[operation].omnisecret.latenciesMs),
      );
      // Paired: each omnisecret operation against the raw one just before or after it.
      const pairedUs = paired
        ? median(
            results.flatMap((r) =>
              r[operation].omnisecret.latenciesMs.map(
                (ms, i) => (ms - (r[operation].raw.latenciesMs[i] as number)) * 1_000,
              ),
            ),
          )
        : undefined;
      process.stdout.write(
        `${provider} ${operation}: ratio ${round(median(ratios), 3)} (rounds ${round(Math.min(...ratios), 3)}-${round(Math.max(...ratios), 3)}), ` +
          `median µs/op omnisecret ${us("omnisecret")} raw ${us("raw")}, ` +
          `median CPU µs/op (this process) omnisecret ${cpu("omnisecret")} raw ${cpu("raw")}, ` +
          `ratio of median latencies ${round(median(latencyRatios), 3)}` +
          (pairedUs === undefined ? "" : `, median paired difference ${round(pairedUs, 1)} µs`) +
          "\n",
      );
    }
  } finally {
    await omnisecret.close();
    await raw.close();
  }
}
