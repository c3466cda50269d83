/**
 * `npm run bench -- --scale`: runs the scale workload (bench/lib/scale.ts) on every provider of
 * the run whose server is up, and writes its section of bench/results/latest.md and the `scale`
 * key of latest.json, leaving the rest of both as they are. Each provider's result replaces only
 * that provider's earlier one, so providers may be run one at a time (`BENCH_PROVIDERS`).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchSideConfig, providerTestSides } from "../../integration-tests/servers/index.js";
import type * as Omnisecret from "../../src/index.js";
import { machineInfo } from "./report.js";
import {
  checkScale,
  runScale,
  SCALE_CONCURRENCY,
  SCALE_DEFAULT_N,
  SCALE_KEPT,
  SCALE_LIST_REPEATS,
  SCALE_SAMPLE,
  type ScaleResult,
  type ScaleSide,
  scaleMarkdown,
  scaleSizes,
  withScaleSection,
} from "./scale.js";
import { createScaleProvider } from "./scale-raw.js";
import type { RawFactory } from "./side.js";

export interface ScaleRunOptions {
  providers: readonly string[];
  configs: Record<string, Record<string, unknown>>;
  rawFactories: Record<string, RawFactory>;
  SecretStore: typeof Omnisecret.SecretStore;
  scratch: string;
  resultsDir: string;
  log: (message: string) => void;
  /** Formats a results file (JSON or Markdown) as `npm run lint` wants it. */
  formatJson: (path: string) => void;
}

export const SCALE_METHOD = {
  workload: `per side: store N with ${SCALE_CONCURRENCY} in flight, get ${SCALE_SAMPLE} of them, list (N + ${SCALE_KEPT} live), delete the N, list (${SCALE_KEPT} live); twice, round 2 on N new ids in the same namespace; omnisecret and raw alternate round by round`,
  lists: `each list sent up to ${SCALE_LIST_REPEATS} times in a row (fewer once 2 s are spent), median time; L (serverListed) read with the raw SDK after them, unmeasured`,
  sizes: "BENCH_SCALE_N: one number for all providers, or provider=n pairs",
};

export async function benchScale(options: ScaleRunOptions): Promise<ScaleResult[]> {
  const { configs, log } = options;
  const providers = options.providers.filter((provider) => configs[provider] && options.rawFactories[provider]);
  const defaults = providers.map((provider) => {
    const side = providerTestSides.find((candidate) => candidate.provider === provider);
    return [provider, side?.scaleDefaultN ?? SCALE_DEFAULT_N] as const;
  });
  const sizes = scaleSizes(process.env.BENCH_SCALE_N, Object.fromEntries(defaults));
  const results: ScaleResult[] = [];
  for (const provider of providers) {
    const config = configs[provider] as Record<string, unknown>;
    const run = randomTag();
    const omnisecretPrefix = `scale-o-${run}`;
    const rawPrefix = `scale-r-${run}`;
    // A store inside the process: each side its own files (see bench/run.ts).
    const ownConfig = () => benchSideConfig(provider, options.scratch, config);
    const rawConfig = ownConfig();
    const omnisecretConfig = ownConfig();
    const store = await options.SecretStore.create({ ...omnisecretConfig, prefix: omnisecretPrefix });
    const raw = await (options.rawFactories[provider] as RawFactory)(rawConfig, rawPrefix);
    const support = await createScaleProvider(provider, omnisecretConfig, rawConfig, rawPrefix);
    const omnisecretSide: ScaleSide = {
      side: store,
      async list() {
        let count = 0;
        for await (const _ of store.listSecretIds()) count += 1;
        return count;
      },
      serverListed: () => support.serverListed(omnisecretPrefix),
      ...(support.timeListRequests
        ? {
            timeListRequests: () => (support.timeListRequests as (prefix: string) => Promise<number>)(omnisecretPrefix),
          }
        : {}),
    };
    const rawSide: ScaleSide = {
      side: raw,
      list: () => support.listRaw(),
      serverListed: () => support.serverListed(rawPrefix),
    };
    const n = sizes[provider] as number;
    log(`${provider}: scale workload, N = ${n}`);
    try {
      const result = await runScale(
        provider,
        { omnisecret: omnisecretSide, raw: rawSide },
        { n, pageSize: support.pageSize, log },
      );
      results.push(result);
      const missed = checkScale(result).filter((check) => !check.met);
      log(
        `${provider}: scale targets missed: ${missed.length === 0 ? "none" : missed.map((c) => c.subject).join("; ")}`,
      );
    } catch (error) {
      log(`${provider}: scale workload failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
    } finally {
      await support.dropLeftovers?.(omnisecretPrefix).catch(() => undefined);
      await store.close();
      await raw.close();
      await support.close();
    }
  }
  write(options, results);
  return results;
}

function randomTag(): string {
  return Math.random().toString(36).slice(2, 10);
}

/** Merges `results` into latest.json's `scale` key and rewrites latest.md's scale section from it. */
function write(options: ScaleRunOptions, results: readonly ScaleResult[]): void {
  const jsonPath = join(options.resultsDir, "latest.json");
  const mdPath = join(options.resultsDir, "latest.md");
  const json = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, "utf8")) as Record<string, unknown>) : {};
  const previous = (json.scale as { results?: Record<string, ScaleResult> } | undefined)?.results ?? {};
  const merged: Record<string, ScaleResult> = { ...previous };
  for (const result of results) merged[result.provider] = result;
  const all = Object.values(merged);
  const machine = machineInfo();
  json.scale = { machine, method: SCALE_METHOD, results: merged, targets: all.flatMap(checkScale) };
  writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  options.formatJson(jsonPath);
  const markdown = existsSync(mdPath) ? readFileSync(mdPath, "utf8") : "# omnisecret benchmark\n";
  const section = scaleMarkdown(all, machine);
  // Its tables are laid out as Biome formats them (report.ts's `table`), so `npm run lint` passes.
  writeFileSync(mdPath, withScaleSection(markdown, section));
  process.stdout.write(`\n${section}`);
  options.log("scale results written to bench/results/latest.json (scale) and latest.md (its Scale section)");
}
