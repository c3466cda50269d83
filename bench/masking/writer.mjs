// The command of bench/masking.ts: writes BENCH_MASK_MB MiB of log-like lines to stdout, the
// values of MASK_1..MASK_n (its environment) on one line in a thousand, then exits.
const megabytes = Number(process.env.BENCH_MASK_MB ?? 100);
const values = Object.keys(process.env)
  .filter((name) => /^MASK_\d+$/.test(name))
  .map((name) => process.env[name]);
const lines = [];
for (let index = 0; index < 1000; index += 1) {
  const value = index % 997 === 0 && values.length > 0 ? values[index % values.length] : `${index}`.padStart(8, "0");
  lines.push(
    `2026-12-07T12:00:00.000Z INFO request ${index} handled in ${index % 97} ms token=${value} path=/api/v1/items\n`,
  );
}
const block = Buffer.from(lines.join(""));
let left = megabytes * 1024 * 1024;
const write = () => {
  while (left > 0) {
    const piece = left >= block.length ? block : block.subarray(0, left);
    left -= piece.length;
    if (!process.stdout.write(piece)) return process.stdout.once("drain", write);
  }
};
write();
