/**
 * examples/telemetry.mjs runs as a user would run it (a process of its own, "omnisecret" the
 * built package) and prints the spans of a store, get, update and delete, and the metrics.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

it("examples/telemetry.mjs prints a span per operation and the metrics, and no value", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(import.meta.dirname, "telemetry.mjs")], {
    cwd: join(import.meta.dirname, ".."),
  });
  const names = [...stdout.matchAll(/^ {2}name: '(omnisecret\.[a-z_.]+)'/gm)].map((match) => match[1]);
  // Two gets, one of them a cache hit: no span for it.
  expect(names).toEqual(["omnisecret.store", "omnisecret.get", "omnisecret.update", "omnisecret.delete"]);
  expect(stdout).toContain("'omnisecret.provider': 'local'");
  expect(stdout).toContain("'omnisecret.requests': 1");
  for (const metric of ["omnisecret.operation.duration", "omnisecret.cache.hits", "omnisecret.cache.misses"]) {
    expect(stdout).toContain(`name: '${metric}'`);
  }
  expect(stdout).not.toContain("s3cret");
});
