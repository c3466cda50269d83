/** `run <id>... -- <command> [args]`: a command with the secrets' keys as environment variables. */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { Command } from "commander";
import { providers } from "../../providers.js";
import { canonicalSecretId } from "../../validation.js";
import { type CliContext, CliExitError, positiveInteger, usageError } from "../context.js";

/** Signals `run` passes on to its command. */
const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;

/** Environment variable names `run` accepts: what POSIX shells can address. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The `run` verb's command: everything after the first `--` among its own arguments is the
 * command line, kept whole, untouched by option parsing (commander drops a `--` it parses).
 */
class CommandWithCommandLine extends Command {
  commandLine: string[] | undefined;
  override parseOptions(args: string[]): ReturnType<Command["parseOptions"]> {
    const separator = args.indexOf("--");
    if (separator < 0) return super.parseOptions(args);
    this.commandLine = args.slice(separator + 1);
    return super.parseOptions(args.slice(0, separator));
  }
}

export function registerRun(context: CliContext): void {
  const command = new CommandWithCommandLine("run");
  context
    .verb("run", command)
    .description("run a command with the secrets' keys as environment variables: run <id>... -- <command> [args]")
    .argument("<ids...>", "the secrets' UUIDs")
    .option("--prefix <text>", "put this in front of every variable name (it must still be a valid name)")
    .option("--allow-override", "let a later secret's key replace an earlier one's instead of failing")
    .option("--concurrency <n>", "reads at once", positiveInteger, 8)
    .action(async (ids: string[], options: { prefix?: string; allowOverride?: boolean; concurrency: number }) => {
      const [program, ...args] = command.commandLine ?? [];
      if (program === undefined)
        throw usageError("give the command after --: omnisecret run <id>... -- <command> [args]");
      const variables: Record<string, string> = {};
      const from = new Map<string, string>();
      await context.withStore(command, async (store) => {
        const results = await store.getManySecretValues(ids, { concurrency: options.concurrency });
        // Applied in the order of each id's last place on the command line: the later id wins.
        const lastPlace = new Map(ids.map((id, place) => [canonicalSecretId(id), place]));
        const ordered = [...results].sort(([x], [y]) => (lastPlace.get(x) ?? 0) - (lastPlace.get(y) ?? 0));
        for (const [secretId, result] of ordered) {
          if ("error" in result) throw result.error;
          context.remember(result.values);
          for (const [key, value] of Object.entries(result.values)) {
            const name = `${options.prefix ?? ""}${key}`;
            if (!ENV_NAME.test(name)) {
              throw usageError(
                `key ${JSON.stringify(key)} of secret ${secretId} is not a valid environment variable name${options.prefix === undefined ? "" : ` with prefix ${JSON.stringify(options.prefix)}`} (letters, digits and _, not starting with a digit)`,
              );
            }
            if (value.includes("\0")) {
              throw usageError(
                `the value of key ${JSON.stringify(key)} of secret ${secretId} contains a NUL byte, which an environment variable cannot carry`,
              );
            }
            const earlier = from.get(name);
            if (earlier !== undefined && !options.allowOverride) {
              throw usageError(
                `secrets ${earlier} and ${secretId} both have key ${JSON.stringify(key)}; use --allow-override (the later id wins) or run them apart`,
              );
            }
            from.set(name, secretId);
            variables[name] = value;
          }
        }
      });
      const exitCode = await runChild(program, args, { ...withoutCredentials(context.io.env), ...variables });
      if (exitCode !== 0) throw new CliExitError(`the command exited with ${exitCode}`, exitCode, { silent: true });
    });
}

/** omnisecret's own variables that carry credentials (`secret` in a provider's definition), never passed on by `run`. */
const CREDENTIAL_VARIABLES: ReadonlySet<string> = new Set(
  providers.flatMap((definition) =>
    definition.envFields
      .filter((field) => field.secret === true)
      .flatMap((field) => field.names.filter((name) => name.startsWith("OMNISECRET_"))),
  ),
);

/** The environment for `run`'s command: without omnisecret's credentials, nor an inline backup config (it may hold some). */
function withoutCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const result = { ...env };
  for (const name of CREDENTIAL_VARIABLES) delete result[name];
  if (result.OMNISECRET_BACKUP_CONFIG?.trimStart().startsWith("{")) delete result.OMNISECRET_BACKUP_CONFIG;
  return result;
}

/**
 * Runs the command with `env`, its stdio the CLI's own; signals the CLI receives are passed on.
 * Resolves with its exit code, or 128 + the signal's number if a signal ended it (as shells do).
 */
function runChild(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: "inherit", env });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    const cleanUp = () => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
    };
    child.once("error", (error: NodeJS.ErrnoException) => {
      cleanUp();
      reject(
        new CliExitError(
          `could not start ${JSON.stringify(command)} (${error.code ?? "error"})`,
          error.code === "ENOENT" ? 127 : 126,
        ),
      );
    });
    child.once("exit", (code, signal) => {
      cleanUp();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
