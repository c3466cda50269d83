// Preloaded with `node --import` by the startup measurements: when the process exits, writes its
// peak resident set size as the last line of stderr, for processes (bare node, the CLI) that do
// not print it themselves.
import { writeSync } from "node:fs";

process.on("exit", () => {
  writeSync(2, `\n${JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS })}\n`);
});
