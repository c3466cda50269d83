/**
 * What every verb of the CLI shares: the caller's input and output, the exit codes, the one typed
 * exit error, and a context each verb registers itself on (src/cli/verbs/). The context opens the
 * store the global options name and remembers every value this invocation handles, so that no
 * error text can carry one out.
 */
import type { Command } from "commander";
import { describeBackupEvent } from "../backup-adapter.js";
import { configFromSources } from "../config.js";
import type { SecretValues } from "../contract.js";
import { redactValues, SecretStore } from "../secret-store.js";

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Reads all of standard input, for `--from-json -`. */
  readonly readStdin: () => Promise<string>;
  readonly env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal: `get --key` then ends its output with a newline, and `versions` prints a table. */
  readonly stdoutIsTty?: boolean;
  /**
   * The streams behind `stdout` and `stderr`, for `run`'s masked copy of its command's output
   * (with backpressure); without them that copy goes through `stdout` and `stderr`.
   */
  readonly stdoutStream?: NodeJS.WritableStream | undefined;
  readonly stderrStream?: NodeJS.WritableStream | undefined;
  /** The terminal behind stderr, for the progress bar of backup, restore and migrate; plain lines without it. */
  readonly progressStream?: NodeJS.WriteStream | undefined;
}

export const EXIT_OK = 0;
export const EXIT_NOT_FOUND = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_FAILURE = 3;

/**
 * A failure the CLI decides the exit code of itself: bad usage (EXIT_BAD_INPUT), a missing key
 * (EXIT_NOT_FOUND), a copy that did not finish, or `run`'s command's own code. `silent` ones print
 * nothing (the command that `run` started has said what it had to).
 */
export class CliExitError extends Error {
  override name = "CliExitError";
  readonly exitCode: number;
  readonly silent: boolean;
  constructor(message: string, exitCode: number, options: { silent?: boolean } = {}) {
    super(message);
    this.exitCode = exitCode;
    this.silent = options.silent === true;
  }
}

/** A usage or input error found by the CLI itself, before any store is opened: exit 2. */
export function usageError(message: string): CliExitError {
  return new CliExitError(message, EXIT_BAD_INPUT);
}

/** The global options (`--provider`, `--config`, `--verbose`), accepted before or after the verb. */
export interface GlobalOptions {
  provider?: string;
  config?: string;
  verbose?: boolean;
}

export interface CliContext {
  readonly io: CliIo;
  readonly program: Command;
  /**
   * Adds a verb: a subcommand of the program (`command`, or a plain one named `name`) that also
   * accepts the global options after it.
   */
  verb(name: string, command?: Command): Command;
  /** Every value this invocation handled, cut out of anything printed on stderr. */
  readonly seenValues: SecretValues;
  /** Notes `values` as handled (see `seenValues`) and returns them. */
  remember(values: SecretValues): SecretValues;
  /** The global options as given to `command` or before it; records `--verbose` for the error line. */
  globalOptions(command: Command): GlobalOptions;
  /** Whether the error line should carry the chain of causes. */
  readonly verbose: boolean;
  /** The store the global options and the environment name. */
  openStore(command: Command): Promise<SecretStore>;
  /** Opens the store, runs `work` on it and closes it, whatever `work` does. */
  withStore(command: Command, work: (store: SecretStore) => Promise<void>): Promise<void>;
  /** The store config the global options and the environment name, unopened (backup and restore open both sides). */
  storeConfig(command: Command): Record<string, unknown>;
}

export function createContext(
  io: CliIo,
  program: Command,
  addGlobalOptions: (command: Command, options: { hidden: boolean }) => Command,
  initiallyVerbose: boolean,
): CliContext {
  const seenValues: SecretValues = {};
  // Each value under a name of its own: keyed by its key alone, the password of a second secret
  // (`export` of two ids, `run` of two) would replace the first one's, no longer redacted. A value
  // already held is not added again, so `run --watch` re-reading the same values does not grow it.
  const remembered = new Set<string>();
  // Known before parsing, so that an error commander reports can carry its causes too.
  let verbose = initiallyVerbose;
  // Where the store's config comes from: the environment, and the global options as given.
  const sourcesOf = (command: Command) => {
    const options = context.globalOptions(command);
    return { env: io.env, configFile: options.config, provider: options.provider };
  };
  const context: CliContext = {
    io,
    program,
    seenValues,
    get verbose() {
      return verbose;
    },
    verb(name, command) {
      if (command) program.addCommand(command);
      return addGlobalOptions(command ?? program.command(name), { hidden: true });
    },
    remember(values) {
      for (const [key, value] of Object.entries(values)) {
        if (remembered.has(value)) continue;
        seenValues[`${remembered.size}:${key}`] = value;
        remembered.add(value);
      }
      return values;
    },
    globalOptions(command) {
      const options = command.optsWithGlobals<GlobalOptions>();
      verbose = verbose || options.verbose === true;
      return options;
    },
    storeConfig(command) {
      return configFromSources(sourcesOf(command));
    },
    openStore(command) {
      return SecretStore.fromSources(sourcesOf(command), {
        // The same redaction as error lines: an event's error text is typed, but a custom adapter's may quote anything.
        onBackupError: (event) =>
          io.stderr(`omnisecret: warning: ${redactValues(describeBackupEvent(event), seenValues)}\n`),
      });
    },
    async withStore(command, work) {
      const store = await context.openStore(command);
      try {
        await work(store);
      } finally {
        await store.close();
      }
    },
  };
  return context;
}

/** commander's parser for `--concurrency <n>`. */
export function positiveInteger(text: string): number {
  if (!/^[1-9]\d*$/.test(text)) throw usageError("--concurrency must be a positive integer");
  return Number(text);
}
