/** The built CLI run as a user runs it, for the tests of `diff`, `run` and `inject` that check what it prints. */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const bin = join(import.meta.dirname, "..", "..", "dist", "src", "cli", "main.js");

export interface BuiltRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `dist/src/cli/main.js` with `args`; `NODE_DEBUG=omnisecret` when `debug`, so its log lands in stderr. */
export async function runBuiltCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; debug?: boolean } = {},
): Promise<BuiltRun> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...options.env };
  if (options.debug) env.NODE_DEBUG = "omnisecret";
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: unknown; stdout: string; stderr: string };
    if (typeof code !== "number") throw error;
    return { code, stdout, stderr };
  }
}

export function writeConfig(directory: string, config: Record<string, unknown>): string {
  const file = join(directory, `config-${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}
