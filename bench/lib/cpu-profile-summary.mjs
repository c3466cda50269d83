// `node bench/lib/cpu-profile-summary.mjs <file.cpuprofile> [operations] [--sides] [--top=N]`:
// the self time of a V8 CPU profile (`node --cpu-prof`, or BENCH_CPU_PROFILE of
// bench/ops-ratio.ts) summed per package or file and per function, in ms, or in µs per operation
// when `operations` is given. With `--sides`, each sample is first given to a benchmark side by
// its stack (see sideOf) and each side is summarized on its own, so omnisecret and the raw side
// profiled in the same interleaved run can be laid side by side. Idle and GC are listed as V8
// names them.
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const [file, operationsArg] = args.filter((arg) => !arg.startsWith("--"));
if (!file) {
  process.stderr.write("usage: cpu-profile-summary.mjs <file.cpuprofile> [operations] [--sides] [--top=N]\n");
  process.exit(2);
}
const operations = Number(operationsArg ?? 0);
const top = Number(args.find((arg) => arg.startsWith("--top="))?.slice(6) ?? 30);
const bySide = args.includes("--sides");
const profile = JSON.parse(readFileSync(file, "utf8"));

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

/**
 * The side a stack belongs to: omnisecret when a frame is its code (dist/, or src/ and adapters/
 * run from source), raw when one is a raw bench side's, shared otherwise.
 */
function sideOf(id) {
  for (let current = id; current !== undefined; current = parentOf.get(current)) {
    const url = nodes.get(current).callFrame.url;
    if (url.includes("/node_modules/")) continue;
    if (/\/bench-raw\.[jt]s$/.test(url)) return "raw";
    if (/\/(dist|src|adapters)\//.test(url)) return "omnisecret";
  }
  return "shared";
}

// Self time per node and side: the sampling intervals attributed to each sample's node.
const sides = new Map();
for (let index = 0; index < profile.samples.length; index += 1) {
  const id = profile.samples[index];
  const side = bySide ? sideOf(id) : "all";
  if (!sides.has(side)) sides.set(side, new Map());
  const map = sides.get(side);
  map.set(id, (map.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
}

/** Where a script lives: an npm package (with its nested path for a nested copy), dist/, src/, or node itself. */
function placeOf(url) {
  if (!url) return "(native/V8)";
  if (url.startsWith("node:")) return url;
  const path = url.replace(/^file:\/\//, "");
  const packages = path.split("/node_modules/");
  if (packages.length > 1) {
    const rest = packages[packages.length - 1];
    const parts = rest.split("/");
    return `npm:${parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  const ours = /\/(dist\/.*|src\/.*|adapters\/.*|bench\/.*|integration-tests\/.*)$/.exec(path);
  return ours ? ours[1] : path;
}

const unit = operations > 0 ? "µs/op" : "ms";
const scale = (us) => (operations > 0 ? us / operations : us / 1_000).toFixed(1).padStart(9);
const print = (title, map) => {
  process.stdout.write(`\n${title} (self time, ${unit})\n`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${scale(us)}  ${key}\n`);
  }
};

for (const [side, selfUs] of [...sides].sort()) {
  const byPlace = new Map();
  const byFunction = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const place = placeOf(url);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
    const key = `${functionName || "(anonymous)"} ${place}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  process.stdout.write(`\n=== ${file}${bySide ? `, side ${side}` : ""}: ${scale(total)} ${unit} sampled in all\n`);
  print("per package or file", byPlace);
  print("per function", byFunction);
}
