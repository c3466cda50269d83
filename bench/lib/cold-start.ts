/**
 * Cold start: wall time (spawn to exit, measured here) and peak memory (the child's
 * `process.resourceUsage().maxRSS` at its end) of a fresh `node` process that loads omnisecret,
 * creates the store and reads one secret, against one that does the same with the raw SDK.
 * The two alternate; one unmeasured run of each warms the file cache first; medians are reported.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { median } from "./stats.js";

const directory = join(import.meta.dirname, "..", "cold-start");

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

function runOnce(args: readonly string[]): Promise<ColdRun> {
  return new Promise((resolveRun, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, args, { env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
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
      resolveRun({ wallMs, maxRssKiB: (JSON.parse(stdout) as { maxRssKiB: number }).maxRssKiB });
    });
  });
}

export async function coldStart(
  provider: string,
  config: Record<string, unknown>,
  id: string,
  runs: number,
): Promise<ColdStartResult> {
  const omnisecretArgs = [join(directory, "omnisecret.mjs"), JSON.stringify(config), id];
  const rawArgs = [join(directory, "raw.mjs"), provider, JSON.stringify(config), config.prefix as string, id];
  await runOnce(omnisecretArgs);
  await runOnce(rawArgs);
  const samples = { omnisecret: [] as ColdRun[], raw: [] as ColdRun[] };
  for (let run = 0; run < runs; run += 1) {
    const pair = run % 2 === 0 ? (["omnisecret", "raw"] as const) : (["raw", "omnisecret"] as const);
    for (const side of pair) samples[side].push(await runOnce(side === "omnisecret" ? omnisecretArgs : rawArgs));
  }
  const summary = (list: ColdRun[]) => ({
    wallMs: median(list.map((run) => run.wallMs)),
    maxRssKiB: median(list.map((run) => run.maxRssKiB)),
    samples: list,
  });
  return { runs, omnisecret: summary(samples.omnisecret), raw: summary(samples.raw) };
}
