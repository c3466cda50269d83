/** Summaries of the raw samples, the target checks, and the Markdown tables. */
import { cpus, freemem, type as osType, release, totalmem } from "node:os";
import { DEFAULT_PROVIDER } from "../../src/config.js";
import { providers } from "../../src/providers.js";
import type { ColdStartResult, StartupResult } from "./cold-start.js";
import { MINIMUMS } from "./minimums.js";
import { median, percentile, round } from "./stats.js";
import { MIXED_CYCLE, type RoundResult, type Sample, type SideName, type Workload } from "./workloads.js";

export const WORKLOADS: readonly Workload[] = ["store", "get", "update", "delete", "mixed"];

export const TARGETS = {
  throughputRatio: 0.97,
  coldStartExtraMs: 15,
  coldStartMemoryRatio: 1.1,
  cachedGetsPerSec: 1_000_000,
  /** `import("omnisecret")` plus `create` of a local store, over bare `node`. */
  startupExtraMs: 25,
} as const;

export interface SideSummary {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requestsPerOp: number;
  /** TCP connections the side opened in one round of the workload (median over the rounds). */
  connections: number;
}

export interface WorkloadSummary {
  omnisecret: SideSummary;
  raw: SideSummary;
  /** Median over rounds of omnisecret's ops/s divided by raw's in the same round. */
  ratio: number;
  /** The lowest and highest of those per-round ratios. */
  ratioRange: [number, number];
  minRequestsPerOp: number;
}

export interface ProviderResult {
  provider: string;
  n: number;
  rounds: number;
  mixedOps: number;
  workloads: Record<Workload, WorkloadSummary>;
  coldStart?: {
    runs: number;
    omnisecret: { wallMs: number; maxRssKiB: number };
    raw: { wallMs: number; maxRssKiB: number };
    extraMs: number;
    memoryRatio: number;
  };
  cachedGets?: { count: number; opsPerSec: number; requests: number };
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  os: string;
  node: string;
  date: string;
}

export function machineInfo(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    freeMemoryGiB: round(freemem() / 2 ** 30, 1),
    os: `${osType()} ${release()}`,
    node: process.version,
    date: new Date().toISOString(),
  };
}

export function minimumFor(provider: string, workload: Workload): number {
  const table = MINIMUMS[provider];
  if (!table) return Number.NaN;
  if (workload !== "mixed") return table[workload].requests;
  return MIXED_CYCLE.reduce((sum, operation) => sum + table[operation].requests, 0) / MIXED_CYCLE.length;
}

function summarizeSide(samples: Sample[]): SideSummary {
  const latencies = samples.flatMap((sample) => sample.latenciesMs);
  const ops = samples.reduce((sum, sample) => sum + sample.ops, 0);
  const requests = samples.reduce((sum, sample) => sum + sample.requests, 0);
  return {
    opsPerSec: round(median(samples.map((sample) => (sample.ops / sample.ms) * 1_000)), 1),
    p50Ms: round(percentile(latencies, 50), 3),
    p99Ms: round(percentile(latencies, 99), 3),
    requestsPerOp: round(requests / ops, 3),
    connections: median(samples.map((sample) => sample.connections)),
  };
}

export function summarizeRounds(provider: string, rounds: RoundResult[]): Record<Workload, WorkloadSummary> {
  const result = {} as Record<Workload, WorkloadSummary>;
  for (const workload of WORKLOADS) {
    const samples = (side: SideName) => rounds.map((r) => r[workload][side]);
    const ratios = rounds.map((r) => {
      const rate = (sample: Sample) => sample.ops / sample.ms;
      return rate(r[workload].omnisecret) / rate(r[workload].raw);
    });
    result[workload] = {
      omnisecret: summarizeSide(samples("omnisecret")),
      raw: summarizeSide(samples("raw")),
      ratio: round(median(ratios), 3),
      ratioRange: [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)],
      minRequestsPerOp: round(minimumFor(provider, workload), 3),
    };
  }
  return result;
}

export function summarizeColdStart(result: ColdStartResult): NonNullable<ProviderResult["coldStart"]> {
  return {
    runs: result.runs,
    omnisecret: { wallMs: round(result.omnisecret.wallMs, 1), maxRssKiB: result.omnisecret.maxRssKiB },
    raw: { wallMs: round(result.raw.wallMs, 1), maxRssKiB: result.raw.maxRssKiB },
    extraMs: round(result.omnisecret.wallMs - result.raw.wallMs, 1),
    memoryRatio: round(result.omnisecret.maxRssKiB / result.raw.maxRssKiB, 3),
  };
}

export interface TargetCheck {
  target: string;
  provider: string;
  subject: string;
  value: string;
  met: boolean;
  note?: string;
}

/** Why a target is missed where the reason does not depend on the run. */
export const NOTES = {
  embeddedThroughput:
    "an operation of the local store is a few µs of SQLite and AES-GCM, and omnisecret's own work per call is about 1.2 µs for a store and 0.6 µs for a get (measured with the memory adapter: the id check, the validated copy of the values and their size check, the copy handed out, error wrapping, two more async layers), several percent of it; µs-scale comparisons on this machine also carry several percent of noise (see the A/A run). It cannot be closed without dropping checks the contract requires; over a network it is about 0.1% of a request",
  coldStart:
    "what omnisecret adds to the SDK's own start is its core (built as a bundle: 2 files and about 100 KB for the import, the library's exports and one core module with the parts of valibot it uses inside, plus the selected provider's options, the chunk of valibot the options schemas share, and its adapter; 12 files before the core was one module), the config check and the facade; zod (about 100 ms and 95 modules) and the unbundled build (23 files, 300 KB) are gone. Process starts on this machine vary by tens of ms from run to run (see the startup table), so a gap of this size needs more runs on a quiet machine to tell from noise; what is left of it is Node parsing and linking those files",
  startup:
    "a bare `node` starts in well under the time Node takes to read, parse and link omnisecret's bundled core (2 files, about 100 KB) and, for a local store on Node 20, to load the better-sqlite3 addon and open the database; node:sqlite (Node 22 and 24) avoids the addon",
  connections:
    "the side opened a connection for (nearly) every request: its HTTP agent or client does not keep connections alive",
  networkNoise:
    "omnisecret's own work is a few µs per operation against requests of a millisecond or more, so a gap this size is this machine's run-to-run noise: two cores shared by the client, the server and other work, and an A/A run (two identical raw baselines) shows gaps of the same size. More rounds on a quiet machine would close it",
} as const;

/** Whether the provider's store runs inside the process (its definition's `embedded`): no network to hide omnisecret's µs. */
function isEmbedded(provider: string): boolean {
  return providers.some((definition) => definition.name === provider && definition.embedded === true);
}

/** The throughput result with what it means per operation, and the spread of the rounds. */
function throughputValue(summary: WorkloadSummary): string {
  const [low, high] = summary.ratioRange;
  const extraUs = 1e6 / summary.omnisecret.opsPerSec - 1e6 / summary.raw.opsPerSec;
  return `${pct(summary.ratio)} (${signed(round(extraUs, 1))} µs/op; rounds ${pct(low)}-${pct(high)})`;
}

/**
 * Requests per operation at the minimum. Where an operation polls until the provider has finished
 * (Azure's delete), the number of polls depends on the server's timing, not on the client: there
 * the target is met when omnisecret polls no more than the raw side did on the same server.
 */
function requestsMet(provider: string, workload: Workload, summary: WorkloadSummary): boolean {
  const operations = workload === "mixed" ? MIXED_CYCLE : [workload];
  const polls = operations.some((operation) => MINIMUMS[provider]?.[operation].polls);
  const measured = summary.omnisecret.requestsPerOp;
  if (polls) return measured >= summary.minRequestsPerOp - 1e-9 && measured <= summary.raw.requestsPerOp + 1e-9;
  return Math.abs(measured - summary.minRequestsPerOp) < 1e-9;
}

export function checkTargets(
  results: readonly ProviderResult[],
  options: { concurrency: number; startup?: StartupResult | undefined },
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const startup = options.startup;
  if (startup) {
    const extraMs = round(startup.createLocal.wallMs - startup.bare.wallMs, 1);
    checks.push({
      target: `import + create within ${TARGETS.startupExtraMs} ms of bare node`,
      // bench/run.ts measures the startup on the default provider's store.
      provider: DEFAULT_PROVIDER,
      subject: "startup",
      value: `${signed(extraMs)} ms`,
      met: extraMs <= TARGETS.startupExtraMs,
      ...(extraMs <= TARGETS.startupExtraMs ? {} : { note: NOTES.startup }),
    });
  }
  for (const result of results) {
    for (const workload of WORKLOADS) {
      const summary = result.workloads[workload];
      // Connections are reused: a round opens at most one per operation in flight, however many
      // operations it runs (one per request would be hundreds).
      const connectionsOk = summary.omnisecret.connections <= options.concurrency;
      checks.push({
        target: `connections reused (<= ${options.concurrency} opened per round)`,
        provider: result.provider,
        subject: workload,
        value: `${summary.omnisecret.connections} (raw ${summary.raw.connections})`,
        met: connectionsOk,
        ...(connectionsOk ? {} : { note: NOTES.connections }),
      });
      checks.push({
        target: "throughput >= 97% of raw",
        provider: result.provider,
        subject: workload,
        value: throughputValue(summary),
        met: summary.ratio >= TARGETS.throughputRatio,
        ...(summary.ratio >= TARGETS.throughputRatio
          ? {}
          : { note: isEmbedded(result.provider) ? NOTES.embeddedThroughput : NOTES.networkNoise }),
      });
      // The mixed workload exceeds the minimum through the operations it is made of.
      const excess = (workload === "mixed" ? MIXED_CYCLE : [workload])
        .map((operation) => MINIMUMS[result.provider]?.[operation].excess)
        .find((why) => why !== undefined);
      checks.push({
        target: "requests/op = provider minimum",
        provider: result.provider,
        subject: workload,
        value: `${summary.omnisecret.requestsPerOp} (min ${summary.minRequestsPerOp})`,
        met: requestsMet(result.provider, workload, summary),
        ...(excess ? { note: excess } : {}),
      });
    }
    if (result.coldStart) {
      const cold = result.coldStart;
      checks.push({
        target: "cold start within 15 ms of raw",
        provider: result.provider,
        subject: "cold start",
        value: `${signed(cold.extraMs)} ms`,
        met: cold.extraMs <= TARGETS.coldStartExtraMs,
        ...(cold.extraMs <= TARGETS.coldStartExtraMs ? {} : { note: NOTES.coldStart }),
      });
      checks.push({
        target: "cold start memory within 10% of raw",
        provider: result.provider,
        subject: "cold start",
        value: `${signed(round((cold.memoryRatio - 1) * 100, 1))}%`,
        met: cold.memoryRatio <= TARGETS.coldStartMemoryRatio,
        ...(cold.memoryRatio <= TARGETS.coldStartMemoryRatio ? {} : { note: NOTES.coldStart }),
      });
    }
    if (result.cachedGets) {
      checks.push({
        target: ">= 1,000,000 cached gets/s",
        provider: result.provider,
        subject: "cached get",
        value: fmt(result.cachedGets.opsPerSec),
        met: result.cachedGets.opsPerSec >= TARGETS.cachedGetsPerSec,
      });
    }
  }
  return checks;
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

function pct(ratio: number): string {
  return `${round(ratio * 100, 1)}%`;
}

function signed(value: number): string {
  return value >= 0 ? `+${value}` : `${value}`;
}

function ms(value: number): string {
  return value < 1 ? value.toFixed(3) : value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function mib(kib: number): string {
  return (kib / 1024).toFixed(1);
}

export interface Settings {
  n: number;
  localN: number;
  rounds: number;
  concurrency: number;
  mixedOps: number;
  coldRuns: number;
  cachedGets: number;
}

/**
 * A Markdown table laid out as Biome formats it (cells padded to the column's width), so the files
 * pass `npm run lint`. `rightAligned`: per column, whether its cells are numbers to right-align.
 */
export function table(
  headers: readonly string[],
  rightAligned: readonly boolean[],
  rows: readonly (readonly string[])[],
): string[] {
  const widths = headers.map((header, column) =>
    Math.max(3, header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells
      .map((cell, column) =>
        rightAligned[column] ? cell.padStart(widths[column] as number) : cell.padEnd(widths[column] as number),
      )
      .join(" | ")} |`;
  const separator = `| ${widths
    .map((width, column) => (rightAligned[column] ? `${"-".repeat(width - 1)}:` : "-".repeat(width)))
    .join(" | ")} |`;
  return [line(headers), separator, ...rows.map(line)];
}

/** An A/A run's results (bench/results/aa-latest.json): the ratios two identical sides get on this machine. */
export interface NoiseFloor {
  readonly date: string;
  readonly results: readonly ProviderResult[];
}

export function markdown(
  machine: Machine,
  settings: Settings,
  results: readonly ProviderResult[],
  checks: readonly TargetCheck[],
  skipped: readonly { provider: string; reason: string }[],
  durationS: number,
  startup?: StartupResult | undefined,
  noise?: NoiseFloor | undefined,
): string {
  const lines: string[] = [];
  const aaRatio = (provider: string, workload: Workload) => {
    const ratio = noise?.results.find((result) => result.provider === provider)?.workloads[workload]?.ratio;
    return ratio === undefined ? "-" : pct(ratio);
  };
  lines.push(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.os}, Node ${machine.node}; ${machine.date.slice(0, 16).replace("T", " ")} UTC; \`npm run bench\` took ${Math.round(durationS)} s.`,
  );
  lines.push(
    `Settings: N = ${settings.n} per sequential workload (local: ${settings.localN}), mixed = ${settings.mixedOps} operations with ${settings.concurrency} in flight, ${settings.rounds} alternating rounds (medians; p50/p99 over all rounds), cold start ${settings.coldRuns} runs per side (medians), ${fmt(settings.cachedGets)} cached gets.`,
  );
  lines.push("");
  lines.push(
    ...table(
      [
        "provider",
        "workload",
        "omnisecret ops/s",
        "raw ops/s",
        "omnisecret/raw",
        "A/A",
        "p50 ms (omni / raw)",
        "p99 ms (omni / raw)",
        "requests/op (omni / raw / min)",
        "connections/round (omni / raw)",
      ],
      [false, false, true, true, true, true, true, true, true, true],
      results.flatMap((result) =>
        WORKLOADS.map((workload) => {
          const w = result.workloads[workload];
          return [
            result.provider,
            workload,
            fmt(w.omnisecret.opsPerSec),
            fmt(w.raw.opsPerSec),
            pct(w.ratio),
            aaRatio(result.provider, workload),
            `${ms(w.omnisecret.p50Ms)} / ${ms(w.raw.p50Ms)}`,
            `${ms(w.omnisecret.p99Ms)} / ${ms(w.raw.p99Ms)}`,
            `${trim(w.omnisecret.requestsPerOp)} / ${trim(w.raw.requestsPerOp)} / ${trim(w.minRequestsPerOp)}`,
            `${w.omnisecret.connections} / ${w.raw.connections}`,
          ];
        }),
      ),
    ),
  );
  lines.push("");
  lines.push(
    `A/A: the same ratio between two identical raw baselines (\`BENCH_AA=1 npm run bench\`${noise ? `, run ${noise.date.slice(0, 16).replace("T", " ")} UTC on this machine` : ", not run"}; bench/results/aa-latest.md): how far apart two sides doing exactly the same work land here, the noise floor a ratio should be read against.`,
    "",
    "For `local`, requests are SQL statements (there is no network). Connections: TCP connections the side opened during one round of the workload (median over the rounds); with keep-alive they stay open from round to round, so 0 means every request went over a connection opened before. Both sides run in one process, so a pooled connection one side opened (Node's global HTTP agent, grpc-js's shared subchannels) may serve the other too.",
  );
  lines.push("");
  if (startup) {
    lines.push(...startupTable(startup));
    lines.push("");
  }
  lines.push(
    ...table(
      [
        "provider",
        "cold start ms (omni / raw)",
        "extra ms",
        "peak RSS MiB (omni / raw)",
        "extra memory",
        "cached gets/s",
        "requests during cached gets",
      ],
      [false, true, true, true, true, true, true],
      results.map((result) => {
        const cold = result.coldStart;
        const cached = result.cachedGets;
        return [
          result.provider,
          cold ? `${ms(cold.omnisecret.wallMs)} / ${ms(cold.raw.wallMs)}` : "-",
          cold ? signed(cold.extraMs) : "-",
          cold ? `${mib(cold.omnisecret.maxRssKiB)} / ${mib(cold.raw.maxRssKiB)}` : "-",
          cold ? `${signed(round((cold.memoryRatio - 1) * 100, 1))}%` : "-",
          cached ? fmt(cached.opsPerSec) : "-",
          cached ? String(cached.requests) : "-",
        ];
      }),
    ),
  );
  lines.push("");
  const missed = checks.filter((check) => !check.met);
  lines.push(`Targets: ${checks.length - missed.length} of ${checks.length} met.`);
  if (missed.length > 0) {
    lines.push("");
    const notes: string[] = [];
    const noteRef = (note: string | undefined) => {
      if (!note) return "";
      if (!notes.includes(note)) notes.push(note);
      return `note ${notes.indexOf(note) + 1}`;
    };
    lines.push(
      ...table(
        ["missed target", "provider", "where", "result", "why"],
        [false, false, false, true, false],
        missed.map((check) => [check.target, check.provider, check.subject, check.value, noteRef(check.note)]),
      ),
    );
    lines.push("");
    for (const [index, note] of notes.entries()) lines.push(`${index + 1}. ${note}.`);
  }
  for (const skip of skipped) {
    lines.push("");
    lines.push(`Not run: ${skip.provider} (${skip.reason}).`);
  }
  return `${lines.join("\n")}\n`;
}

/** omnisecret's own startup against bare `node`. */
function startupTable(startup: StartupResult): string[] {
  const row = (
    name: string,
    run: { wallMs: number; maxRssKiB: number },
    loaded?: StartupResult["import"]["loaded"],
  ) => [
    name,
    ms(run.wallMs),
    run === startup.bare ? "-" : signed(round(run.wallMs - startup.bare.wallMs, 1)),
    mib(run.maxRssKiB),
    run === startup.bare ? "-" : `${signed(round((run.maxRssKiB / startup.bare.maxRssKiB - 1) * 100, 1))}%`,
    loaded ? `${loaded.files} / ${round(loaded.bytes / 1024, 1)} KB` : "-",
    loaded ? loaded.packages.join(", ") || "none" : "-",
  ];
  return [
    `Startup (${startup.runs} runs each, alternating, medians): fresh processes against bare \`node\`.`,
    "",
    ...table(
      ["process", "wall ms", "extra ms", "peak RSS MiB", "extra memory", "files / size loaded", "npm packages loaded"],
      [false, true, true, true, true, true, false],
      [
        row("bare `node`", startup.bare),
        row('`import("omnisecret")`', startup.import, startup.import.loaded),
        row("import + `create` local store", startup.createLocal, startup.createLocal.loaded),
        row("CLI `omnisecret get` (local)", startup.cliGet),
      ],
    ),
  ];
}

function trim(value: number): string {
  return String(round(value, 2));
}

/**
 * The README's short form of a run: omnisecret's throughput as a share of the raw SDK's and its
 * requests per operation, per provider and workload, and the cold-start cost. The full tables,
 * latencies and the reasons for every missed target are in bench/results/latest.md.
 */
export function readmeSummary(
  machine: Machine,
  results: readonly ProviderResult[],
  checks: readonly TargetCheck[],
  startup?: StartupResult | undefined,
  noise?: NoiseFloor | undefined,
): string {
  const aaRatios = (noise?.results ?? []).flatMap((result) =>
    WORKLOADS.map((workload) => result.workloads[workload].ratio),
  );
  const cell = (w: WorkloadSummary) => `${pct(w.ratio)} · ${trim(w.omnisecret.requestsPerOp)}`;
  const rows = results.map((result) => [
    result.provider,
    ...WORKLOADS.map((workload) => cell(result.workloads[workload])),
    result.coldStart ? `${signed(round(result.coldStart.extraMs, 1))} ms` : "-",
    result.coldStart ? `${signed(round((result.coldStart.memoryRatio - 1) * 100, 1))}%` : "-",
  ]);
  const met = checks.filter((check) => check.met).length;
  return [
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date.slice(0, 10)}. Each cell: omnisecret's throughput as a share of the raw SDK's on the same server in the same run · requests per operation.`,
    "",
    ...table(
      ["provider", ...WORKLOADS, "cold start", "peak RSS"],
      [false, true, true, true, true, true, true, true],
      rows,
    ),
    "",
    ...(startup
      ? [
          `Startup over bare \`node\`: \`import("omnisecret")\` ${signed(round(startup.import.wallMs - startup.bare.wallMs, 1))} ms (${startup.import.loaded.files} files, ${round(startup.import.loaded.bytes / 1024, 1)} KB), import + \`create\` of a local store ${signed(round(startup.createLocal.wallMs - startup.bare.wallMs, 1))} ms, the CLI's \`get\` ${signed(round(startup.cliGet.wallMs - startup.bare.wallMs, 1))} ms.`,
          "",
        ]
      : []),
    ...(aaRatios.length > 0
      ? [
          `Noise floor: an A/A run (two identical raw baselines, ${noise?.date.slice(0, 10)}) gave ratios of ${pct(Math.min(...aaRatios))}-${pct(Math.max(...aaRatios))} on the same workloads.`,
          "",
        ]
      : []),
    `Targets: ${met} of ${checks.length} met. Latencies, connections opened, the A/A noise floor and why each missed target is missed: [bench/results/latest.md](bench/results/latest.md).`,
    "",
  ].join("\n");
}
