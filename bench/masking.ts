/**
 * `npx tsx bench/masking.ts`: what `run`'s output masking costs (issue 25). A command writes
 * BENCH_MASK_MB (100) MiB of log lines, the injected values on one line in a thousand
 * (bench/masking/writer.mjs), and the bench reads it all from a pipe, in two ways that take turns
 * round by round: `omnisecret run <id> -- writer` (masked: run copies the command's output through
 * the masker) against `omnisecret run --no-masking <id> -- pass-through writer` (the same output
 * copied by a plain pipe, bench/masking/pass-through.mjs: the same number of processes and copies,
 * no masking); and, third, `omnisecret run <short-id> -- writer`, whose values are all under the
 * masking minimum: the same copy through the same stream code with no pattern, so the difference
 * is the scan itself. Reported: the median wall time of each, the ratios (target: masked at most
 * 1.10 times the pass-through), and the MiB/s masked. Last, in this process, the masker alone
 * (src/cli/masking.ts) over the same amount of 64 KiB chunks with the values and with none: the
 * scan's own cost, free of the pipes and of the other processes on the machine.
 *
 * Settings (environment): BENCH_ROUNDS (5), BENCH_MASK_MB (100), BENCH_MASK_VALUES (5 values of 32
 * characters), BENCH_SKIP_BUILD=1 (run the dist/ already built).
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Masker, maskPatterns } from "../src/cli/masking.js";
import { table } from "./lib/report.js";
import { setting } from "./lib/settings.js";
import { median, round } from "./lib/stats.js";

const root = join(import.meta.dirname, "..");
const bin = join(root, "dist", "src", "cli", "main.js");
const rounds = setting("BENCH_ROUNDS", 5);
const megabytes = setting("BENCH_MASK_MB", 100);
const valueCount = setting("BENCH_MASK_VALUES", 5);
const log = (message: string) => process.stderr.write(`[masking] ${message}\n`);

if (process.env.BENCH_SKIP_BUILD !== "1") {
  log("building dist/ ...");
  execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
}
// The bench runs under tsx; its loader must not follow into the CLI.
const { NODE_OPTIONS: _ignored, ...baseEnv } = process.env;
const env = { ...baseEnv, OMNISECRET_LOCAL_PATH: join(mkdtempSync(join(tmpdir(), "omnisecret-masking-")), "bench.db") };
const id = randomUUID();
const values = Object.fromEntries(
  Array.from({ length: valueCount }, (_, index) => [`MASK_${index + 1}`, randomBytes(24).toString("base64url")]),
);
execFileSync(process.execPath, [bin, "store", id, ...Object.entries(values).map(([key, value]) => `${key}=${value}`)], {
  env,
});
// A secret whose values are too short to mask: run's copy with nothing to look for.
const shortId = randomUUID();
execFileSync(process.execPath, [bin, "store", shortId, "MASK_1=abc"], { env });
const writer = [process.execPath, join(root, "bench", "masking", "writer.mjs")];
const passThrough = [process.execPath, join(root, "bench", "masking", "pass-through.mjs")];
const sides = {
  masked: ["run", id, "--", ...writer],
  "pass-through": ["run", "--no-masking", id, "--", ...passThrough, ...writer],
  "nothing to mask": ["run", shortId, "--", ...writer],
} as const;
type Side = keyof typeof sides;

/** One run of a side: its wall time in ms, the bytes read and whether a value got through. */
function once(side: Side): Promise<{ ms: number; bytes: number; leaked: boolean }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [bin, ...sides[side]], {
      env: { ...env, BENCH_MASK_MB: String(megabytes) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let bytes = 0;
    let tail = Buffer.alloc(0);
    let leaked = false;
    const probe = Buffer.from(Object.values(values)[0] as string);
    child.stdout.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      // The same check on every side (so each pays for it alike); only the masked side must pass it.
      const seam = Buffer.concat([tail, chunk.subarray(0, probe.length)]);
      leaked ||= chunk.includes(probe) || seam.includes(probe);
      tail = Buffer.from(chunk.subarray(-probe.length));
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`${side} exited with ${code}`));
      else resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, bytes, leaked });
    });
  });
}

const times: Record<Side, number[]> = { masked: [], "pass-through": [], "nothing to mask": [] };
const ratios: number[] = [];
const scanRatios: number[] = [];
for (let roundIndex = 0; roundIndex < rounds; roundIndex += 1) {
  const all: Side[] = ["masked", "pass-through", "nothing to mask"];
  const order = [...all.slice(roundIndex % 3), ...all.slice(0, roundIndex % 3)];
  const result: Partial<Record<Side, number>> = {};
  for (const side of order) {
    const { ms, bytes, leaked } = await once(side);
    if (side === "masked" && leaked) throw new Error("a value reached the masked output");
    if (side === "pass-through" && !leaked)
      throw new Error(`the ${side} side's output lacks the values it should show`);
    if (side !== "masked" && bytes !== megabytes * 1024 * 1024) throw new Error(`${side} read ${bytes} bytes`);
    result[side] = ms;
    times[side].push(ms);
  }
  ratios.push((result.masked as number) / (result["pass-through"] as number));
  scanRatios.push((result.masked as number) / (result["nothing to mask"] as number));
  log(
    `round ${roundIndex + 1}/${rounds}: ${all.map((side) => `${side} ${round(result[side] as number, 0)} ms`).join(", ")}`,
  );
}

const maskedMs = median(times.masked);
const plainMs = median(times["pass-through"]);
const emptyMs = median(times["nothing to mask"]);
const range = (list: number[]) =>
  `${round(median(list), 3)} (${round(Math.min(...list), 3)}-${round(Math.max(...list), 3)})`;
/** ms the masker alone takes over `megabytes` MiB of log lines in 64 KiB chunks, with `patterns`. */
function maskerAlone(patterns: Buffer[]): number {
  const line = Buffer.from(
    "2026-12-07T12:00:00.000Z INFO request 1234 handled in 12 ms token=00001234 path=/api/v1/items\n",
  );
  const chunk = Buffer.concat(Array.from({ length: Math.ceil(65_536 / line.length) }, () => line)).subarray(0, 65_536);
  const samples: number[] = [];
  for (let repeat = 0; repeat < rounds; repeat += 1) {
    const masker = new Masker(patterns);
    const started = performance.now();
    for (let index = 0; index < megabytes * 16; index += 1) masker.push(chunk);
    masker.end();
    samples.push(performance.now() - started);
  }
  return median(samples);
}
const scanMs = maskerAlone(maskPatterns(Object.values(values)));
const idleMs = maskerAlone([]);

const rows = [
  [
    `${megabytes} MiB, ${valueCount} values`,
    String(round(maskedMs, 0)),
    String(round(plainMs, 0)),
    String(round(emptyMs, 0)),
    range(ratios),
    range(scanRatios),
    String(round(megabytes / (maskedMs / 1000), 0)),
  ],
];
const report = [
  "# What masking `run`'s output costs",
  "",
  `${cpus()[0]?.model.trim() ?? "CPU"}, ${cpus().length} cores, Node ${process.version}; ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; \`npx tsx bench/masking.ts\` (its header says how it measures), ${rounds} rounds.`,
  "",
  "Wall time of `omnisecret run` (local store) whose command writes the output, read from a pipe to the end: masked, against the same output copied by a plain pass-through, and against `run` copying it with nothing to mask (values under the minimum: the scan's own cost); medians over the rounds, each ratio's range in brackets. Target: masked at most 1.10 times the pass-through.",
  "",
  ...table(
    [
      "output",
      "masked ms",
      "pass-through ms",
      "nothing to mask ms",
      "masked / pass-through",
      "masked / nothing to mask",
      "MiB/s masked",
    ],
    [false, true, true, true, true, true, true],
    rows,
  ),
];
report.push(
  "",
  `The masker alone, in one process, over ${megabytes} MiB in 64 KiB chunks: ${round(scanMs, 0)} ms with the ${valueCount} values (${round(scanMs / valueCount, 0)} ms a value: one native \`Buffer.indexOf\` pass per value and chunk), ${round(idleMs, 0)} ms with none.`,
);
const resultsFile = join(root, "bench", "results", "masking.md");
writeFileSync(resultsFile, `${report.join("\n")}\n`);
console.table(rows);
log(`results written to ${resultsFile}`);
