/**
 * `npx tsx bench/diff.ts`: what `diff` (compareStores) costs beside the raw SDKs (issue 25). N
 * secrets (BENCH_DIFF_N, 1,000) stored on a local store and on the vault test server
 * (integration-tests/.servers.json), 1 % of them with a changed value; then, in rounds
 * (BENCH_ROUNDS, 3) whose order alternates, the same comparison two ways:
 * - omnisecret: `compareStores(local, vault)` (one list of each, then the batch path, 8 reads at
 *   each store at once, values turned into HMAC digests);
 * - raw: better-sqlite3 reads the local table in one SELECT and decrypts it, node-vault sends one
 *   LIST and one read per secret, 8 at once, and the maps are compared with isDeepStrictEqual.
 * Reported: the median ms of each, and the median and range of the rounds' ratios (each round
 * pairs the two runs made side by side, so a slow moment of the shared server weighs on both), in
 * bench/results/diff.md. Both must find the
 * same differing ids, or the run fails.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { readAllLocal } from "../integration-tests/servers/local/diff-raw.js";
import { deleteAllVault, readAllVault } from "../integration-tests/servers/vault/diff-raw.js";
import { compareStores, SecretStore } from "../src/index.js";
import { table } from "./lib/report.js";
import { setting } from "./lib/settings.js";
import { median, round } from "./lib/stats.js";

const root = join(import.meta.dirname, "..");
const count = setting("BENCH_DIFF_N", 1_000);
const rounds = setting("BENCH_ROUNDS", 3);
const concurrency = 8;
const log = (message: string) => process.stderr.write(`[diff] ${message}\n`);
const servers = JSON.parse(readFileSync(join(root, "integration-tests", ".servers.json"), "utf8")) as Record<
  string,
  Record<string, unknown>
>;
const vaultConfig = servers.vault;
if (vaultConfig === undefined) throw new Error("no vault test server in integration-tests/.servers.json");
const prefix = `bench-diff-${randomUUID().slice(0, 8)}`;
const localConfig = {
  provider: "local",
  path: join(mkdtempSync(join(tmpdir(), "omnisecret-bench-diff-")), "bench.db"),
  key: randomBytes(32).toString("base64"),
  prefix,
};
const local = await SecretStore.create(localConfig);
const vault = await SecretStore.create({ ...vaultConfig, prefix });

try {
  log(`storing ${count} secrets on each side ...`);
  const ids: string[] = Array.from({ length: count }, () => randomUUID());
  const changed = new Set(ids.filter((_, index) => index % 100 === 0));
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        const values = { user: `user-${id.slice(0, 8)}`, password: randomBytes(18).toString("base64") };
        await local.storeSecretValues(id, values);
        await vault.storeSecretValues(id, changed.has(id) ? { ...values, password: "rotated" } : values);
      }
    }),
  );

  const timings = { omnisecret: [] as number[], raw: [] as number[] };
  const sorted = (set: Iterable<string>) => [...set].sort();
  const timeOmnisecret = async () => {
    const started = performance.now();
    const summary = await compareStores(local, vault, { concurrency });
    timings.omnisecret.push(performance.now() - started);
    const differing = summary.entries.filter((entry) => entry.status !== "same").map((entry) => entry.id);
    if (!isDeepStrictEqual(sorted(differing), sorted(changed))) throw new Error("omnisecret found other differences");
  };
  const timeRaw = async () => {
    const started = performance.now();
    const [a, b] = await Promise.all([
      readAllLocal(localConfig, prefix),
      readAllVault(vaultConfig, prefix, concurrency),
    ]);
    const differing = new Set<string>();
    for (const [id, values] of a) if (!isDeepStrictEqual(values, b.get(id))) differing.add(id);
    for (const id of b.keys()) if (!a.has(id)) differing.add(id);
    timings.raw.push(performance.now() - started);
    if (!isDeepStrictEqual(sorted(differing), sorted(changed))) throw new Error("the raw side found other differences");
  };
  // One untimed pass each warms connections and the SQLite page cache for both.
  await timeOmnisecret();
  await timeRaw();
  timings.omnisecret.length = 0;
  timings.raw.length = 0;
  for (let r = 0; r < rounds; r += 1) {
    for (const run of r % 2 === 0 ? [timeOmnisecret, timeRaw] : [timeRaw, timeOmnisecret]) await run();
    log(
      `round ${r + 1}/${rounds}: omnisecret ${round(timings.omnisecret.at(-1) ?? 0, 0)} ms, raw ${round(timings.raw.at(-1) ?? 0, 0)} ms`,
    );
  }
  const ms = { omnisecret: median(timings.omnisecret), raw: median(timings.raw) };
  const ratios = timings.omnisecret.map((value, index) => value / (timings.raw[index] as number));
  const ratio = median(ratios);
  const range = `${round(Math.min(...ratios), 2).toFixed(2)}-${round(Math.max(...ratios), 2).toFixed(2)}`;
  const lines = [
    "# What `diff` costs",
    "",
    `${cpus()[0]?.model.trim() ?? "CPU"}, ${cpus().length} cores, Node ${process.version}; ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; \`npx tsx bench/diff.ts\` (its header says how it measures).`,
    "",
    `A comparison of ${count} secrets, local store against the vault test server, ${changed.size} of them differing; medians of ${rounds} rounds. Raw: better-sqlite3 (one SELECT) and node-vault (one LIST, one read per secret, ${concurrency} at once), compared in memory.`,
    "",
    ...table(
      ["comparison", "omnisecret ms", "raw SDKs ms", "ratio (range)"],
      [false, true, true, true],
      [
        [
          `diff, ${count} secrets, local vs vault`,
          String(round(ms.omnisecret, 0)),
          String(round(ms.raw, 0)),
          `${round(ratio, 2).toFixed(2)} (${range})`,
        ],
      ],
    ),
  ];
  const resultsFile = join(root, "bench", "results", "diff.md");
  writeFileSync(resultsFile, `${lines.join("\n")}\n`);
  log(
    `omnisecret ${round(ms.omnisecret, 0)} ms, raw ${round(ms.raw, 0)} ms, ratio ${round(ratio, 2)} (${range}); written to ${resultsFile}`,
  );
} finally {
  await deleteAllVault(vaultConfig, prefix, 16).catch(() => undefined);
  await Promise.all([local.close(), vault.close()]);
}
