/**
 * The `omnisecret` command line, built on commander. `runCli` takes its input and output as
 * arguments and returns the exit code, so tests run it in-process.
 *
 * Exit codes: 0 ok, 1 not found, 2 bad input or config (an existing id included), 3 provider
 * or other failure. Errors are one line on stderr, without a stack trace; `--verbose` adds the
 * cause chain. No value ever reaches stderr: every text printed there has the values of this
 * call cut out.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { Command, CommanderError, Option } from "commander";
import { describeBackupEvent } from "../backup-adapter.js";
import { configFromSources, readConfigFile } from "../config.js";
import type { SecretValues } from "../contract.js";
import { type CopySummary, copySecrets, openPrimaryAndBackup } from "../copy-secrets.js";
import { describeInput, isSecretStoreError, type SecretStoreErrorCode } from "../errors.js";
import { providers } from "../providers.js";
import { type ProviderDefinition, providerNames } from "../registry.js";
import { redactValues, SecretStore } from "../secret-store.js";
import { canonicalSecretId } from "../validation.js";
import { DotenvError, formatDotenv, formatShell, parseDotenv } from "./dotenv.js";
import { progressReporter } from "./progress.js";

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Reads all of standard input, for `--from-json -`. */
  readonly readStdin: () => Promise<string>;
  readonly env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal: `get --key` then ends its output with a newline. */
  readonly stdoutIsTty?: boolean;
  /** The terminal behind stderr, for the progress bar of backup, restore and migrate; plain lines without it. */
  readonly progressStream?: NodeJS.WriteStream | undefined;
}

export const EXIT_OK = 0;
export const EXIT_NOT_FOUND = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_FAILURE = 3;

const BAD_INPUT_CODES: ReadonlySet<SecretStoreErrorCode> = new Set([
  "E_INVALID_SECRET_ID",
  "E_INVALID_SECRET_VALUES",
  "E_SECRET_TOO_LARGE",
  "E_CONFIG",
  "E_SECRET_EXISTS",
]);

/** A usage or input error found by the CLI itself, before any store is opened. */
class UsageError extends Error {
  override name = "UsageError";
}

/** Signals `run` passes on to its command. */
const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;

/** Environment variable names `run` accepts: what POSIX shells can address. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError || error instanceof DotenvError) return EXIT_BAD_INPUT;
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
  if (isSecretStoreError(error)) {
    if (error.code === "E_SECRET_NOT_FOUND") return EXIT_NOT_FOUND;
    if (BAD_INPUT_CODES.has(error.code)) return EXIT_BAD_INPUT;
  }
  return EXIT_FAILURE;
}

interface GlobalOptions {
  provider?: string;
  config?: string;
  verbose?: boolean;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // `run <id>... -- <command> [args]`: everything after the first `--` is the command, untouched by option parsing.
  let commandLine: string[] | undefined;
  let cliArgs = argv;
  const separator = argv.indexOf("--");
  const runAt = argv.indexOf("run");
  if (runAt >= 0 && separator > runAt) {
    commandLine = argv.slice(separator + 1);
    cliArgs = argv.slice(0, separator);
  }
  // Every value this invocation handles, so that no error text can carry one out.
  const seenValues: SecretValues = {};
  const remember = (values: SecretValues): SecretValues => {
    Object.entries(values).forEach(([key, value], index) => {
      seenValues[`${index}:${key}`] = value;
    });
    return values;
  };
  let verbose = cliArgs.includes("--verbose");

  const program = new Command("omnisecret")
    .description("Store, read, replace and delete secret values in any cloud, through one API.")
    .version(packageVersion(), "-V, --version")
    .option(
      "-p, --provider <name>",
      `provider to use (${providerNames.join(", ")}); overrides OMNISECRET_PROVIDER and the config file`,
    )
    .option("-c, --config <file>", "JSON config file; overrides OMNISECRET_CONFIG")
    .option("--verbose", "on error, also print the chain of causes (never values)")
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined });

  const openStore = async (): Promise<SecretStore> => {
    const options = program.opts<GlobalOptions>();
    verbose = options.verbose === true;
    return SecretStore.fromSources(
      { env: io.env, configFile: options.config, provider: options.provider },
      {
        // The same redaction as error lines: an event's error text is typed, but a custom adapter's may quote anything.
        onBackupError: (event) =>
          io.stderr(`omnisecret: warning: ${redactValues(describeBackupEvent(event), seenValues)}\n`),
      },
    );
  };
  const withStore = async (work: (store: SecretStore) => Promise<void>): Promise<void> => {
    const store = await openStore();
    try {
      await work(store);
    } finally {
      await store.close();
    }
  };
  const readValues = async (
    pairs: string[],
    fromJson: string | undefined,
    fromDotenv?: string | undefined,
  ): Promise<SecretValues> => {
    if (fromJson !== undefined && fromDotenv !== undefined) {
      throw new UsageError("give --from-json or --from-dotenv, not both");
    }
    const values = {
      ...(fromJson === undefined ? {} : await readJsonValues(fromJson, io)),
      ...(fromDotenv === undefined
        ? {}
        : parseDotenv(
            await readSource("--from-dotenv", fromDotenv, io),
            `--from-dotenv ${fromDotenv === "-" ? "standard input" : fromDotenv}`,
          )),
      ...parsePairs(pairs),
    };
    if (fromJson === undefined && fromDotenv === undefined && pairs.length === 0) {
      throw new UsageError("give the values as KEY=VALUE arguments, or with --from-json or --from-dotenv <file|->");
    }
    return remember(values);
  };
  const copyBetween = async (
    label: string,
    from: SecretStore,
    to: SecretStore,
    options: CopyCommandOptions,
    deleteSource: boolean,
  ): Promise<void> => {
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    const reporter = progressReporter({
      label,
      stream: io.progressStream,
      writeLine: (line) => io.stderr(`${line}\n`),
    });
    let summary: CopySummary;
    try {
      summary = await copySecrets(from, to, {
        concurrency: options.concurrency,
        dryRun: options.dryRun === true,
        overwrite: options.overwrite === true ? "replace" : "never",
        deleteSource,
        signal: controller.signal,
        onProgress: (progress) => reporter.update(progress),
      });
    } finally {
      reporter.stop();
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      await Promise.allSettled([from.close(), to.close()]);
    }
    io.stdout(formatSummary(summary));
    if (summary.failed.length > 0 || summary.aborted) {
      throw Object.assign(
        new Error(
          summary.aborted
            ? `${label} was interrupted after ${summary.copied.length + summary.failed.length + summary.skipped.length} of ${summary.total} secrets; run it again to finish`
            : `${label}: ${summary.failed.length} of ${summary.total} secrets were not copied`,
        ),
        { exitCode: EXIT_FAILURE },
      );
    }
  };

  program
    .command("store")
    .description("store a new secret; fails with exit code 2 if the id exists")
    .argument("<id>", "the secret's UUID")
    .argument("[pairs...]", "values as KEY=VALUE")
    .option("--from-json <file|->", "read the values from a JSON object in a file, or - for stdin")
    .option("--from-dotenv <file|->", "read the values from a dotenv file, or - for stdin")
    .action(async (id: string, pairs: string[], options: { fromJson?: string; fromDotenv?: string }) => {
      const values = await readValues(pairs, options.fromJson, options.fromDotenv);
      await withStore((store) => store.storeSecretValues(id, values));
    });

  program
    .command("get")
    .description("print a secret's values as JSON (several ids: an object keyed by id), or one raw value with --key")
    .argument("<ids...>", "the secrets' UUIDs")
    .option("-k, --key <key>", "print only this key's value, raw (one id only)")
    .option("--concurrency <n>", "reads at once, for several ids", positiveInteger, 8)
    .action(async (ids: string[], options: { key?: string; concurrency: number }) => {
      const [id] = ids as [string];
      if (ids.length > 1) {
        if (options.key !== undefined) throw new UsageError("--key takes one id");
        await withStore(async (store) => {
          const results = await store.getManySecretValues(ids, { concurrency: options.concurrency });
          const output: Record<string, SecretValues> = {};
          for (const [secretId, result] of results) {
            if ("error" in result) throw result.error;
            output[secretId] = result.values;
          }
          io.stdout(`${JSON.stringify(output, null, 2)}\n`);
        });
        return;
      }
      await withStore(async (store) => {
        const values = await store.getSecretValues(id);
        if (options.key === undefined) {
          io.stdout(`${JSON.stringify(values, null, 2)}\n`);
          return;
        }
        if (!Object.hasOwn(values, options.key)) {
          throw Object.assign(new Error(`secret ${id.toLowerCase()} has no key ${JSON.stringify(options.key)}`), {
            exitCode: EXIT_NOT_FOUND,
          });
        }
        io.stdout(`${values[options.key]}${io.stdoutIsTty ? "\n" : ""}`);
      });
    });

  program
    .command("update")
    .description("replace the whole map of an existing secret")
    .argument("<id>", "the secret's UUID")
    .argument("[pairs...]", "values as KEY=VALUE")
    .option("--from-json <file|->", "read the values from a JSON object in a file, or - for stdin")
    .option("--from-dotenv <file|->", "read the values from a dotenv file, or - for stdin")
    .action(async (id: string, pairs: string[], options: { fromJson?: string; fromDotenv?: string }) => {
      const values = await readValues(pairs, options.fromJson, options.fromDotenv);
      await withStore((store) => store.updateSecretValues(id, values));
    });

  program
    .command("delete")
    .description("delete a secret for good")
    .argument("<id>", "the secret's UUID")
    .action(async (id: string) => {
      await withStore((store) => store.deleteSecretValues(id));
    });

  program
    .command("list")
    .description("print the ids of the secrets this store owns, one per line")
    .action(async () => {
      await withStore(async (store) => {
        for await (const id of store.listSecretIds()) io.stdout(`${id}\n`);
      });
    });

  program
    .command("export")
    .description("print a secret's values as JSON, a dotenv file or shell `export` lines")
    .argument("<id>", "the secret's UUID")
    .addOption(new Option("--format <format>", "output format").choices(["json", "dotenv", "shell"]).default("json"))
    .action(async (id: string, options: { format: "json" | "dotenv" | "shell" }) => {
      await withStore(async (store) => {
        const values = remember(await store.getSecretValues(id));
        if (options.format === "json") io.stdout(`${JSON.stringify(values, null, 2)}\n`);
        else io.stdout(options.format === "dotenv" ? formatDotenv(values) : formatShell(values));
      });
    });

  program
    .command("run")
    .description("run a command with the secrets' keys as environment variables: run <id>... -- <command> [args]")
    .argument("<ids...>", "the secrets' UUIDs")
    .option("--prefix <text>", "put this in front of every variable name (it must still be a valid name)")
    .option("--allow-override", "let a later secret's key replace an earlier one's instead of failing")
    .option("--concurrency <n>", "reads at once", positiveInteger, 8)
    .action(async (ids: string[], options: { prefix?: string; allowOverride?: boolean; concurrency: number }) => {
      const [command, ...args] = commandLine ?? [];
      if (command === undefined)
        throw new UsageError("give the command after --: omnisecret run <id>... -- <command> [args]");
      const variables: Record<string, string> = {};
      const from = new Map<string, string>();
      await withStore(async (store) => {
        const results = await store.getManySecretValues(ids, { concurrency: options.concurrency });
        // Applied in the order of each id's last place on the command line: the later id wins.
        const lastPlace = new Map(ids.map((id, place) => [canonicalSecretId(id), place]));
        const ordered = [...results].sort(([x], [y]) => (lastPlace.get(x) ?? 0) - (lastPlace.get(y) ?? 0));
        for (const [secretId, result] of ordered) {
          if ("error" in result) throw result.error;
          remember(result.values);
          for (const [key, value] of Object.entries(result.values)) {
            const name = `${options.prefix ?? ""}${key}`;
            if (!ENV_NAME.test(name)) {
              throw new UsageError(
                `key ${JSON.stringify(key)} of secret ${secretId} is not a valid environment variable name${options.prefix === undefined ? "" : ` with prefix ${JSON.stringify(options.prefix)}`} (letters, digits and _, not starting with a digit)`,
              );
            }
            if (value.includes("\0")) {
              throw new UsageError(
                `the value of key ${JSON.stringify(key)} of secret ${secretId} contains a NUL byte, which an environment variable cannot carry`,
              );
            }
            const earlier = from.get(name);
            if (earlier !== undefined && !options.allowOverride) {
              throw new UsageError(
                `secrets ${earlier} and ${secretId} both have key ${JSON.stringify(key)}; use --allow-override (the later id wins) or run them apart`,
              );
            }
            from.set(name, secretId);
            variables[name] = value;
          }
        }
      });
      const exitCode = await runChild(command, args, { ...withoutCredentials(io.env), ...variables });
      if (exitCode !== 0) throw Object.assign(new ChildExit(`the command exited with ${exitCode}`), { exitCode });
    });

  const addCopyOptions = (command: Command): Command =>
    command
      .option("--dry-run", "read both sides and report what would be done; write and delete nothing")
      .option("--overwrite", "replace a target secret that has other values (by default it is left alone, a conflict)")
      .option("--concurrency <n>", "secrets copied at once", positiveInteger, 8);

  addCopyOptions(
    program
      .command("backup")
      .description("copy every secret of the primary store to its configured backup")
      .option("--delete-secrets", "delete each primary secret once its copy was verified on the backup"),
  ).action(async (options: CopyCommandOptions & { deleteSecrets?: boolean }) => {
    const { primary, backup } = await openPrimaryAndBackup(configFromGlobalOptions());
    await copyBetween("backup", primary, backup, options, options.deleteSecrets === true);
  });

  addCopyOptions(
    program
      .command("restore")
      .description("copy every secret of the configured backup to the primary store")
      .option("--delete-secrets", "delete each backup secret once its copy was verified on the primary"),
  ).action(async (options: CopyCommandOptions & { deleteSecrets?: boolean }) => {
    const { primary, backup } = await openPrimaryAndBackup(configFromGlobalOptions());
    await copyBetween("restore", backup, primary, options, options.deleteSecrets === true);
  });

  addCopyOptions(
    program
      .command("migrate")
      .description("copy every secret from one store to another, each given as a JSON config file")
      .requiredOption("--from <file>", "JSON config file of the source store")
      .requiredOption("--to <file>", "JSON config file of the target store")
      .option("--delete-source", "delete each source secret once its copy was verified on the target"),
  ).action(async (options: CopyCommandOptions & { from: string; to: string; deleteSource?: boolean }) => {
    const from = await SecretStore.create(migrateConfig(options.from));
    let to: SecretStore;
    try {
      to = await SecretStore.create(migrateConfig(options.to));
    } catch (error) {
      await from.close();
      throw error;
    }
    await copyBetween("migrate", from, to, options, options.deleteSource === true);
  });

  function configFromGlobalOptions(): Record<string, unknown> {
    const options = program.opts<GlobalOptions>();
    verbose = options.verbose === true;
    return configFromSources({ env: io.env, configFile: options.config, provider: options.provider });
  }

  try {
    await program.parseAsync([...cliArgs], { from: "user" });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return EXIT_OK; // --help, --version
    if (!(error instanceof ChildExit)) io.stderr(`${formatError(error, verbose, seenValues)}\n`);
    const explicit = (error as { exitCode?: unknown }).exitCode;
    return typeof explicit === "number" && !(error instanceof CommanderError) ? explicit : exitCodeFor(error);
  }
}

/** One line for the error; with `verbose`, one more line per cause. Values of this call are cut out. */
export function formatError(error: unknown, verbose: boolean, values: SecretValues): string {
  const describe = (candidate: unknown): string => {
    if (isSecretStoreError(candidate)) {
      const provider = candidate.provider ? ` (provider ${candidate.provider})` : "";
      return `${candidate.code}: ${candidate.message}${provider}`;
    }
    if (candidate instanceof CommanderError) return candidate.message.replace(/^error: /, "");
    if (candidate instanceof Error) return candidate.message;
    return String(candidate);
  };
  const lines = [`omnisecret: ${describe(error)}`];
  if (verbose) {
    let cause = (error as { cause?: unknown } | null)?.cause;
    for (let depth = 0; cause !== undefined && depth < 10; depth += 1) {
      const name = cause instanceof Error ? cause.name : typeof cause;
      const code = (cause as { code?: unknown } | null)?.code;
      lines.push(`  caused by ${name}${typeof code === "string" ? ` [${code}]` : ""}: ${describe(cause)}`);
      cause = (cause as { cause?: unknown } | null)?.cause;
    }
  }
  return redactValues(lines.join("\n").replace(/\n(?! {2}caused by)/g, " "), values);
}

interface CopyCommandOptions {
  dryRun?: boolean;
  overwrite?: boolean;
  concurrency: number;
}

/** omnisecret's own variables that carry credentials (`secret` in a provider's definition), never passed on by `run`. */
const CREDENTIAL_VARIABLES: ReadonlySet<string> = new Set(
  (providers as readonly ProviderDefinition[]).flatMap((definition) =>
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

/** The command `run` started ended with a non-zero code: passed through, and nothing is printed. */
class ChildExit extends Error {
  override name = "ChildExit";
}

function positiveInteger(text: string): number {
  if (!/^[1-9]\d*$/.test(text)) throw new UsageError("--concurrency must be a positive integer");
  return Number(text);
}

/** A migrate config file: a store of its own, so `backup` in it is refused. */
function migrateConfig(file: string): Record<string, unknown> {
  const config = readConfigFile(file);
  if ("backup" in config) {
    throw new UsageError(`${file} configures a backup store; migrate copies between two plain stores: remove "backup"`);
  }
  return config;
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
        Object.assign(new Error(`could not start ${JSON.stringify(command)} (${error.code ?? "error"})`), {
          exitCode: error.code === "ENOENT" ? 127 : 126,
        }),
      );
    });
    child.once("exit", (code, signal) => {
      cleanUp();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}

function formatSummary(summary: CopySummary): string {
  const lines = [
    `${summary.dryRun ? "dry run (nothing written or deleted): would copy" : "copied"} ${summary.copied.length} of ${summary.total} (${summary.alreadyPresent} already there), skipped ${summary.skipped.length}, failed ${summary.failed.length}${summary.dryRun ? "" : `, deleted ${summary.deleted}`}${summary.aborted ? " (interrupted)" : ""}`,
    ...summary.skipped.map((id) => `skipped ${id}: gone from the source`),
    ...summary.failed.map((failure) => `failed ${failure.id}: ${failure.code}: ${failure.message}`),
  ];
  return `${lines.join("\n")}\n`;
}

function parsePairs(pairs: readonly string[]): SecretValues {
  const entries = pairs.map((pair, index) => {
    const separator = pair.indexOf("=");
    if (separator <= 0) {
      // The argument itself is not echoed: it may be a value typed without its key.
      throw new UsageError(`values argument ${index + 1} must look like KEY=VALUE with a non-empty KEY`);
    }
    return [pair.slice(0, separator), pair.slice(separator + 1)] as const;
  });
  return Object.fromEntries(entries);
}

async function readSource(option: string, source: string, io: CliIo): Promise<string> {
  try {
    return source === "-" ? await io.readStdin() : readFileSync(source, "utf8");
  } catch (error) {
    throw new UsageError(
      `${option}: could not read ${source === "-" ? "standard input" : source} (${(error as { code?: string }).code ?? "error"})`,
    );
  }
}

async function readJsonValues(source: string, io: CliIo): Promise<SecretValues> {
  const text = await readSource("--from-json", source, io);
  const where = source === "-" ? "standard input" : source;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input, which here is the secret itself.
    throw new UsageError(`--from-json: ${where} is not valid JSON`);
  }
  // Anything but an object would be spread into a map of its indexes or characters (or into
  // nothing) and silently replace the secret, so it is refused here. Values that are not strings
  // are reported by the store's validation, which names the key.
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new UsageError(
      `--from-json: ${where} must hold a JSON object of string keys to string values (got ${describeInput(parsed)})`,
    );
  }
  return parsed as SecretValues;
}

/** omnisecret's own package.json, looked for upwards: the build bundles this module into a file whose folder may change. */
function packageVersion(): string {
  for (let folder = new URL(".", import.meta.url); ; folder = new URL("..", folder)) {
    try {
      const manifest = JSON.parse(readFileSync(new URL("package.json", folder), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === "omnisecret" && typeof manifest.version === "string") return manifest.version;
    } catch {}
    if (folder.pathname === "/") return "unknown";
  }
}
