/**
 * `npx tsx bench/telemetry.ts`: what telemetry costs (issue 24). Per provider, in rounds, each
 * mode in a fresh process (bench/telemetry-probe.mjs; the order rotates from round to round):
 * off twice (telemetry.enabled false: the A/A pair, whose difference is the noise), nosdk
 * (@opentelemetry/api loaded, no SDK registered), sdkoff (a real SDK registered, omnisecret's
 * telemetry off: the SDK's own cost, its context manager's async hooks on every await) and sdk
 * (that SDK, omnisecret's telemetry on: spans recorded and batched, metrics aggregated). Reported: medians per mode of the ns per cached get (target:
 * sdk at most 50 ns above off) and of the µs per get that reaches the provider (target: nosdk
 * and sdk within the A/A noise), and the per-round ratios against off.
 *
 * Settings (environment): BENCH_PROVIDERS (local,vault; a server provider's config comes from
 * integration-tests/.servers.json), BENCH_ROUNDS (6), BENCH_CACHED_GETS (1,000,000 per process),
 * BENCH_GETS (local 20,000, a server 500 per process), BENCH_SKIP_BUILD=1 (run the dist/ built).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { providerTestSides } from "../integration-tests/servers/index.js";
import { setting } from "./lib/settings.js";
import { median, round } from "./lib/stats.js";

const root = join(import.meta.dirname, "..");
const providers = (process.env.BENCH_PROVIDERS ?? "local,vault").split(",").map((name) => name.trim());
const rounds = setting("BENCH_ROUNDS", 6);
const cachedGets = setting("BENCH_CACHED_GETS", 1_000_000);
const log = (message: string) => process.stderr.write(`[telemetry] ${message}\n`);
const MODES = ["off", "off2", "nosdk", "sdkoff", "sdk"] as const;
type Mode = (typeof MODES)[number];

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

for (const provider of providers) {
  const side = providerTestSides.find((candidate) => candidate.provider === provider);
  const directory = mkdtempSync(join(tmpdir(), "omnisecret-bench-telemetry-"));
  const config = servers[provider] ?? { ...side?.offlineConfig(directory), provider };
  const embedded = servers[provider] === undefined;
  const gets = setting("BENCH_GETS", embedded ? 20_000 : 500);
  const samples = new Map<Mode, { cachedNs: number; getUs: number }[]>(MODES.map((mode) => [mode, []]));
  for (let r = 0; r < rounds; r += 1) {
    const order = MODES.map((_, i) => MODES[(i + r) % MODES.length] as Mode);
    for (const mode of order) {
      const output = execFileSync(
        process.execPath,
        [
          join(root, "bench", "telemetry-probe.mjs"),
          mode === "off2" ? "off" : mode,
          JSON.stringify({ ...config, prefix: `bench-t-${r}-${mode}` }),
          String(cachedGets),
          String(gets),
        ],
        { cwd: root, env, encoding: "utf8" },
      );
      samples.get(mode)?.push(JSON.parse(output));
    }
    log(`${provider}: round ${r + 1}/${rounds}`);
  }
  const of = (mode: Mode, field: "cachedNs" | "getUs") => (samples.get(mode) ?? []).map((sample) => sample[field]);
  const ratios = (mode: Mode) => of(mode, "getUs").map((value, i) => value / (of("off", "getUs")[i] as number));
  const row = (mode: Mode) => ({
    mode,
    cachedNs: round(median(of(mode, "cachedNs")), 1),
    cachedNsOverOff: round(median(of(mode, "cachedNs")) - median(of("off", "cachedNs")), 1),
    getUs: round(median(of(mode, "getUs")), 2),
    getRatioToOff: round(median(ratios(mode)), 3),
    getRatios: ratios(mode).map((ratio) => round(ratio, 3)),
  });
  console.log(`\n${provider}: ${rounds} rounds, ${cachedGets} cached gets and ${gets} gets per process`);
  console.table(MODES.map(row).map(({ getRatios: _ratios, ...rest }) => rest));
  for (const mode of MODES.slice(1))
    console.log(`${mode} get ratios to off per round: ${row(mode).getRatios.join(" ")}`);
}
