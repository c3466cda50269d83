/**
 * The `omnisecret` command line, built on commander. `runCli` takes its input and output as
 * arguments and returns the exit code, so tests run it in-process. Each verb is a module of its
 * own in src/cli/verbs/, registered on the shared context (src/cli/context.ts).
 *
 * Exit codes: 0 ok, 1 not found, 2 bad input or config (an existing id included), 3 provider
 * or other failure. Errors are one line on stderr, without a stack trace; `--verbose` adds the
 * cause chain. No value ever reaches stderr: every text printed there has the values of this
 * call cut out.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import type { SecretValues } from "../contract.js";
import { errorCodeOf, isSecretStoreError, type SecretStoreErrorCode } from "../errors.js";
import { providerNames } from "../registry.js";
import { redactValues } from "../secret-store.js";
import {
  type CliContext,
  CliExitError,
  type CliIo,
  createContext,
  EXIT_BAD_INPUT,
  EXIT_FAILURE,
  EXIT_NOT_FOUND,
  EXIT_OK,
} from "./context.js";
import { DotenvError } from "./dotenv.js";
import { registerBackup } from "./verbs/backup.js";
import { registerDelete } from "./verbs/delete.js";
import { registerDiff } from "./verbs/diff.js";
import { registerExport } from "./verbs/export.js";
import { registerGet } from "./verbs/get.js";
import { registerInject } from "./verbs/inject.js";
import { registerList } from "./verbs/list.js";
import { registerMigrate } from "./verbs/migrate.js";
import { registerRestore } from "./verbs/restore.js";
import { registerRollback } from "./verbs/rollback.js";
import { registerRun } from "./verbs/run.js";
import { registerStore } from "./verbs/store.js";
import { registerUpdate } from "./verbs/update.js";
import { registerVersions } from "./verbs/versions.js";

export { type CliIo, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK } from "./context.js";

/** The verbs in the order `--help` lists them. */
const VERBS: readonly ((context: CliContext) => void)[] = [
  registerStore,
  registerGet,
  registerUpdate,
  registerDelete,
  registerVersions,
  registerRollback,
  registerList,
  registerExport,
  registerRun,
  registerInject,
  registerBackup,
  registerRestore,
  registerMigrate,
  registerDiff,
];

const BAD_INPUT_CODES: ReadonlySet<SecretStoreErrorCode> = new Set([
  "E_INVALID_SECRET_ID",
  "E_INVALID_SECRET_VALUES",
  "E_SECRET_TOO_LARGE",
  "E_INVALID_VERSION",
  "E_INVALID_REFERENCE",
  "E_CONFIG",
  "E_SECRET_EXISTS",
]);

export function exitCodeFor(error: unknown): number {
  if (error instanceof CliExitError) return error.exitCode;
  if (error instanceof DotenvError) return EXIT_BAD_INPUT;
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
  if (isSecretStoreError(error)) {
    if (error.code === "E_SECRET_NOT_FOUND") return EXIT_NOT_FOUND;
    if (BAD_INPUT_CODES.has(error.code)) return EXIT_BAD_INPUT;
  }
  return EXIT_FAILURE;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // Program options come before the verb; each verb accepts them after itself too (hidden copies),
  // so that `run` gets its own arguments as given, `--` and the command line after it included.
  const addGlobalOptions = (command: Command, { hidden }: { hidden: boolean }): Command =>
    command
      .addOption(
        new Option(
          "-p, --provider <name>",
          `provider to use (${providerNames.join(", ")}); overrides OMNISECRET_PROVIDER and the config file`,
        ).hideHelp(hidden),
      )
      .addOption(new Option("-c, --config <file>", "JSON config file; overrides OMNISECRET_CONFIG").hideHelp(hidden))
      .addOption(new Option("--verbose", "on error, also print the chain of causes (never values)").hideHelp(hidden));
  const program = addGlobalOptions(
    new Command("omnisecret")
      .description("Store, read, replace and delete secret values in any cloud, through one API.")
      .version(packageVersion(), "-V, --version"),
    { hidden: false },
  )
    .enablePositionalOptions()
    // commander's own term counts hidden options: `delete <id>` would read `delete [options] <id>`.
    .configureHelp({
      subcommandTerm: (command) =>
        [
          command.name(),
          ...(command.options.some((option) => !option.hidden) ? ["[options]"] : []),
          ...command.registeredArguments.map((argument) =>
            argument.required
              ? `<${argument.name()}${argument.variadic ? "..." : ""}>`
              : `[${argument.name()}${argument.variadic ? "..." : ""}]`,
          ),
        ].join(" "),
    })
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined });
  const separator = argv.indexOf("--");
  const context = createContext(
    io,
    program,
    addGlobalOptions,
    (separator < 0 ? argv : argv.slice(0, separator)).includes("--verbose"),
  );
  for (const register of VERBS) register(context);

  try {
    await program.parseAsync([...argv], { from: "user" });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return EXIT_OK; // --help, --version
    if (!(error instanceof CliExitError && error.silent)) {
      io.stderr(`${formatError(error, context.verbose, context.seenValues)}\n`);
    }
    return exitCodeFor(error);
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
      const code = errorCodeOf(cause);
      lines.push(`  caused by ${name}${typeof code === "string" ? ` [${code}]` : ""}: ${describe(cause)}`);
      cause = (cause as { cause?: unknown } | null)?.cause;
    }
  }
  return redactValues(lines.join("\n").replace(/\n(?! {2}caused by)/g, " "), values);
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
