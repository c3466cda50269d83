/**
 * The `omnisecret` command line, built on commander. `runCli` takes its input and output as
 * arguments and returns the exit code, so tests run it in-process.
 *
 * Exit codes: 0 ok, 1 not found, 2 bad input or config (an existing id included), 3 provider
 * or other failure. Errors are one line on stderr, without a stack trace; `--verbose` adds the
 * cause chain. No value ever reaches stderr: every text printed there has the values of this
 * call cut out.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import type { SecretValues } from "../contract.js";
import { describeInput, isSecretStoreError, type SecretStoreErrorCode } from "../errors.js";
import { providerNames } from "../registry.js";
import { redactValues, SecretStore } from "../secret-store.js";

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Reads all of standard input, for `--from-json -`. */
  readonly readStdin: () => Promise<string>;
  readonly env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal: `get --key` then ends its output with a newline. */
  readonly stdoutIsTty?: boolean;
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

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT_BAD_INPUT;
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
  // Every value this invocation handles, so that no error text can carry one out.
  const seenValues: SecretValues = {};
  const remember = (values: SecretValues): SecretValues => {
    Object.entries(values).forEach(([key, value], index) => {
      seenValues[`${index}:${key}`] = value;
    });
    return values;
  };
  let verbose = argv.includes("--verbose");

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
    return SecretStore.fromSources({ env: io.env, configFile: options.config, provider: options.provider });
  };
  const withStore = async (work: (store: SecretStore) => Promise<void>): Promise<void> => {
    const store = await openStore();
    try {
      await work(store);
    } finally {
      await store.close();
    }
  };
  const readValues = async (pairs: string[], fromJson: string | undefined): Promise<SecretValues> => {
    const values = {
      ...(fromJson === undefined ? {} : await readJsonValues(fromJson, io)),
      ...parsePairs(pairs),
    };
    if (fromJson === undefined && pairs.length === 0) {
      throw new UsageError("give the values as KEY=VALUE arguments or with --from-json <file|->");
    }
    return remember(values);
  };

  program
    .command("store")
    .description("store a new secret; fails with exit code 2 if the id exists")
    .argument("<id>", "the secret's UUID")
    .argument("[pairs...]", "values as KEY=VALUE")
    .option("--from-json <file|->", "read the values from a JSON object in a file, or - for stdin")
    .action(async (id: string, pairs: string[], options: { fromJson?: string }) => {
      const values = await readValues(pairs, options.fromJson);
      await withStore((store) => store.storeSecretValues(id, values));
    });

  program
    .command("get")
    .description("print a secret's values as JSON, or one raw value with --key")
    .argument("<id>", "the secret's UUID")
    .option("-k, --key <key>", "print only this key's value, raw")
    .action(async (id: string, options: { key?: string }) => {
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
    .action(async (id: string, pairs: string[], options: { fromJson?: string }) => {
      const values = await readValues(pairs, options.fromJson);
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

  try {
    await program.parseAsync([...argv], { from: "user" });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return EXIT_OK; // --help, --version
    io.stderr(`${formatError(error, verbose, seenValues)}\n`);
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

async function readJsonValues(source: string, io: CliIo): Promise<SecretValues> {
  let text: string;
  try {
    text = source === "-" ? await io.readStdin() : readFileSync(source, "utf8");
  } catch (error) {
    throw new UsageError(
      `--from-json: could not read ${source === "-" ? "standard input" : source} (${(error as { code?: string }).code ?? "error"})`,
    );
  }
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

function packageVersion(): string {
  try {
    const text = readFileSync(new URL("../../../package.json", import.meta.url), "utf8");
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return "unknown";
  }
}
