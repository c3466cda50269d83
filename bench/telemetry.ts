/**
 * `npx tsx bench/telemetry.ts`: what telemetry costs (issue 24). Per provider, in rounds, each
 * mode in a fresh process (bench/telemetry-probe.mjs; the order rotates from round to round),
 * where a store with the mode's telemetry and one with telemetry off take turns block by block:
 * off (both off: the A/A pair, whose spread is the noise), nosdk (@opentelemetry/api loaded, no
 * SDK registered) and sdk (a real SDK registered: spans recorded and batched, metrics
 * aggregated). Reported per mode, medians over the processes: the ns a cached get costs more
 * than the same process's store with telemetry off (target with the SDK: at most 50), and the
 * ratio of the µs per get that reaches the provider to that store's (target: within the A/A
 * pair's spread); and, across processes, what the SDK itself costs the store with telemetry off
 * (its context manager's async hooks on every await: the application's choice, not omnisecret's).
 *
 * Settings (environment): BENCH_PROVIDERS (local,vault; a server provider's config comes from
 * integration-tests/.servers.json), BENCH_ROUNDS (6), BENCH_CACHED_GETS (1,000,000 per store and
 * process), BENCH_GETS (local 20,000, a server 1,000 per store and process), BENCH_SKIP_BUILD=1
 * (run the dist/ already built).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { providerTestSides } from "../integration-tests/servers/index.js";
import { table } from "./lib/report.js";
import { setting } from "./lib/settings.js";
import { median, round } from "./lib/stats.js";

const root = join(import.meta.dirname, "..");
const providers = (process.env.BENCH_PROVIDERS ?? "local,vault").split(",").map((name) => name.trim());
const rounds = setting("BENCH_ROUNDS", 6);
const cachedGets = setting("BENCH_CACHED_GETS", 1_000_000);
const log = (message: string) => process.stderr.write(`[telemetry] ${message}\n`);
const MODES = ["off", "nosdk", "sdk"] as const;
type Mode = (typeof MODES)[number];
interface Sample {
  cachedNs: number;
  cachedNsOff: number;
  getUs: number;
  getUsOff: number;
}

if (process.env.BENCH_SKIP_BUILD !== "1") {
  log("building dist/ ...");
  execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
}
const servers = JSON.parse(readFileSync(join(root, "integration-tests", ".servers.json"), "utf8")) as Record<
  string,
  Record<string, unknown>
>;
// The bench runs under tsx; its loader must not follow into the probes.
const { NODE_OPTIONS: _ignored, ...env } = process.env;

/** The results file: what `npm run bench` leaves beside latest.md (the bench runs this after run.ts). */
const report: string[] = [
  "# What telemetry costs",
  "",
  `${cpus()[0]?.model.trim() ?? "CPU"}, ${cpus().length} cores, Node ${process.version}; ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; \`npx tsx bench/telemetry.ts\` (its header says how it measures; [docs/telemetry.md](../../docs/telemetry.md#what-it-costs) how to read it).`,
  "",
  "Per mode, medians over fresh processes, each comparing in the same process a store with the mode's telemetry to one with it off: off is the A/A pair (its spread is the noise), nosdk has `@opentelemetry/api` installed and no SDK registered, sdk a real SDK registered (spans recorded, metrics aggregated). Targets: a cached get at most 50 ns more with an SDK; a get that reaches the provider within the A/A spread.",
  "",
];
const reportRows: string[][] = [];

/** Said after the table: what registering an SDK costs every await, telemetry on or off. */
const sdkOwnCosts: string[] = [];

for (const provider of providers) {
  const side = providerTestSides.find((candidate) => candidate.provider === provider);
  const directory = mkdtempSync(join(tmpdir(), "omnisecret-bench-telemetry-"));
  const config = servers[provider] ?? { ...side?.offlineConfig(directory), provider };
  const gets = setting("BENCH_GETS", servers[provider] === undefined ? 20_000 : 1_000);
  const samples = new Map<Mode, Sample[]>(MODES.map((mode) => [mode, []]));
  for (let r = 0; r < rounds; r += 1) {
    for (const mode of MODES.map((_, i) => MODES[(i + r) % MODES.length] as Mode)) {
      const output = execFileSync(
        process.execPath,
        [
          join(root, "bench", "telemetry-probe.mjs"),
          mode,
          JSON.stringify({ ...config, prefix: `bench-t-${r}-${mode}` }),
          String(cachedGets),
          String(gets),
        ],
        { cwd: root, env, encoding: "utf8" },
      );
      samples.get(mode)?.push(JSON.parse(output) as Sample);
    }
    log(`${provider}: round ${r + 1}/${rounds}`);
  }
  const of = (mode: Mode) => samples.get(mode) ?? [];
  const rows = MODES.map((mode) => {
    const ratios = of(mode).map((sample) => sample.getUs / sample.getUsOff);
    return {
      mode,
      "cached ns": round(median(of(mode).map((sample) => sample.cachedNs)), 1),
      "cached ns, off": round(median(of(mode).map((sample) => sample.cachedNsOff)), 1),
      "cached +ns": round(median(of(mode).map((sample) => sample.cachedNs - sample.cachedNsOff)), 1),
      "get µs": round(median(of(mode).map((sample) => sample.getUs)), 2),
      "get µs, off": round(median(of(mode).map((sample) => sample.getUsOff)), 2),
      "get ratio": round(median(ratios), 3),
      "get ratio range": `${round(Math.min(...ratios), 3)}-${round(Math.max(...ratios), 3)}`,
    };
  });
  console.log(`\n${provider}: ${rounds} processes per mode, ${cachedGets} cached gets and ${gets} gets per store`);
  console.table(rows);
  const sdkItself = (field: "cachedNsOff" | "getUsOff") =>
    median(of("sdk").map((sample) => sample[field])) - median(of("off").map((sample) => sample[field]));
  const sdkOwn = `the SDK's own cost to a store with telemetry off (across processes): ${round(sdkItself("cachedNsOff"), 1)} ns per cached get, ${round(sdkItself("getUsOff"), 2)} µs per get`;
  console.log(sdkOwn);
  for (const row of rows) {
    reportRows.push([
      provider,
      row.mode,
      String(row["cached +ns"]),
      `x${row["get ratio"]} (${row["get ratio range"]})`,
      `${row["get µs"]} (${row["get µs, off"]})`,
    ]);
  }
  sdkOwnCosts.push(`- ${provider}: ${sdkOwn}.`);
}
const resultsFile = join(root, "bench", "results", "telemetry.md");
const layout = table(
  [
    "provider",
    "mode",
    "cached get: ns more than off",
    "get that reaches the provider: ratio to off (range)",
    "us per get (off)",
  ],
  [false, false, true, true, true],
  reportRows,
);
writeFileSync(resultsFile, `${[...report, ...layout, "", ...sdkOwnCosts].join("\n")}\n`);
log(`results written to ${resultsFile}`);
