/** Runs the CLI in process for the CLI tests, capturing what it prints. */
import { runCli } from "./program.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A runner whose calls use `defaultEnv` (say, a local store's path) unless a call gives its own env. */
export function cliRunner(
  defaultEnv: NodeJS.ProcessEnv,
): (args: string[], options?: { env?: NodeJS.ProcessEnv; stdin?: string }) => Promise<CliRun> {
  return async (args, options = {}) => {
    let stdout = "";
    let stderr = "";
    const code = await runCli(args, {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
      readStdin: async () => options.stdin ?? "",
      env: options.env ?? defaultEnv,
    });
    return { code, stdout, stderr };
  };
}
