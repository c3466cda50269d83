/**
 * `run [id...] -- <command> [args]`: a command with the secrets' keys, and the values of the
 * `omnisecret://` references in its environment and env files, as environment variables; its
 * output masked, and with `--watch` restarted when a value changes (docs/cli.md#run).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StringDecoder } from "node:string_decoder";
import { setTimeout as sleep } from "node:timers/promises";
import { Command } from "commander";
import type { SecretValues } from "../../contract.js";
import { errorCodeOf, isSecretStoreError, SecretNotFoundError } from "../../errors.js";
import { providers } from "../../providers.js";
import { looksLikeReference, parseReference, readReferences } from "../../references.js";
import { redactValues, type SecretReadResult, type SecretStore } from "../../secret-store.js";
import { canonicalSecretId } from "../../validation.js";
import { type CliContext, CliExitError, positiveInteger, usageError } from "../context.js";
import { parseDotenvLines } from "../dotenv.js";
import { MASK, maskingStream, maskPatterns } from "../masking.js";

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
    if (separator >= 0) this.commandLine = args.slice(separator + 1);
    const own = separator < 0 ? args : args.slice(0, separator);
    // `--watch` takes an optional number: a bare one must not swallow the id after it.
    return super.parseOptions(
      own.map((arg, index) =>
        arg === "--watch" && !/^\d+(?:\.\d+)?$/.test(own[index + 1] ?? "") ? `--watch=${DEFAULT_WATCH_SECONDS}` : arg,
      ),
    );
  }
}

export function registerRun(context: CliContext): void {
  const command = new CommandWithCommandLine("run");
  context
    .verb("run", command)
    .description(
      "run a command with the secrets' keys, and the values of omnisecret:// references, as environment variables: run [id...] -- <command> [args]",
    )
    .argument("[ids...]", "the secrets' UUIDs")
    .option("--prefix <text>", "put this in front of every variable name (it must still be a valid name)")
    .option("--allow-override", "let a later secret's key replace an earlier one's instead of failing")
    .option("--concurrency <n>", "reads at once", positiveInteger, 8)
    .option(
      "--env-file <file>",
      "dotenv file of variables for the command, references resolved (repeatable; a later file wins)",
      (file: string, files: string[] | undefined) => [...(files ?? []), file],
    )
    .option(
      "--no-masking",
      `let the command write to the terminal itself, values unmasked (default: values become ${MASK})`,
    )
    .option(
      "--watch [seconds]",
      `check the secrets for changes every interval (no value read where the provider allows) and restart the command when a value changed (default ${DEFAULT_WATCH_SECONDS})`,
      (text: string) => seconds(text, "--watch"),
    )
    .option(
      "--grace-period <seconds>",
      "with --watch, how long a restarted command has after SIGTERM before SIGKILL",
      (text: string) => seconds(text, "--grace-period"),
      DEFAULT_GRACE_SECONDS,
    )
    .action(async (ids: string[], options: RunOptions) => {
      const [program, ...args] = command.commandLine ?? [];
      if (program === undefined)
        throw usageError("give the command after --: omnisecret run [id...] -- <command> [args]");
      const base = withoutCredentials(context.io.env);
      const fromFiles = readEnvFiles(options.envFile ?? []);
      const references = referencesIn(base, fromFiles);
      const plan: ReadPlan = { ids, references, options };
      const needsStore = ids.length > 0 || references.size > 0;
      const environment = (injected: Record<string, string>): NodeJS.ProcessEnv => {
        const variables: NodeJS.ProcessEnv = { ...base };
        for (const [name, { value }] of fromFiles) variables[name] = value;
        return { ...variables, ...injected };
      };
      const output: ChildOutput = {
        masking: options.masking,
        stdout: context.io.stdoutStream ?? textWriter(context.io.stdout),
        stderr: context.io.stderrStream ?? textWriter(context.io.stderr),
        masked: new Set<string>(),
      };
      let exitCode: number;
      if (options.watch === undefined) {
        let injected: Record<string, string> = {};
        if (needsStore) {
          await context.withStore(command, async (store) => {
            injected = await variablesFrom(context, plan, await readSecrets(store, plan));
          });
        }
        for (const value of Object.values(injected)) output.masked.add(value);
        exitCode = await startChild(program, args, environment(injected), output).exited;
      } else {
        const intervalMs = (options.watch === true ? DEFAULT_WATCH_SECONDS : options.watch) * 1000;
        if (!needsStore) throw usageError("--watch needs secret ids or omnisecret:// references to watch");
        const store = await context.openStore(command);
        try {
          exitCode = await runWatching(context, store, plan, {
            program,
            args,
            environment,
            output,
            intervalMs,
            graceMs: options.gracePeriod * 1000,
          });
        } finally {
          await store.close();
        }
      }
      if (exitCode !== 0) throw new CliExitError(`the command exited with ${exitCode}`, exitCode, { silent: true });
    });
}

interface RunOptions {
  prefix?: string;
  allowOverride?: boolean;
  concurrency: number;
  envFile?: string[];
  masking: boolean;
  watch?: number | true;
  gracePeriod: number;
}

/** `--watch`'s interval when none is given, in seconds: one revision check per secret per interval (docs/watching.md). */
const DEFAULT_WATCH_SECONDS = 10;
/** How long a command restarted by `--watch` has to end after SIGTERM, in seconds. */
const DEFAULT_GRACE_SECONDS = 10;

function seconds(text: string, option: string): number {
  const value = Number(text);
  if (!/^\d+(?:\.\d+)?$/.test(text) || !(value > 0)) throw usageError(`${option} must be a positive number of seconds`);
  return value;
}

/** Where a variable came from, for an error about it. */
interface Origin {
  readonly value: string;
  readonly where: string;
}

/** The variables of the `--env-file` files, in order (a later file's variable wins). */
function readEnvFiles(files: readonly string[]): Map<string, Origin> {
  const variables = new Map<string, Origin>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw usageError(`cannot read --env-file ${file} (${String(errorCodeOf(error) ?? "error")})`);
    }
    for (const [name, { value, line }] of parseDotenvLines(text, `--env-file ${file}`)) {
      variables.delete(name);
      variables.set(name, { value, where: `--env-file ${file}, line ${line} (${name})` });
    }
  }
  return variables;
}

/**
 * The variables whose whole value is a reference, each checked now (exit 2 naming the variable or
 * the file and line, before any request): the environment's, then the env files' (which win).
 */
function referencesIn(env: NodeJS.ProcessEnv, fromFiles: ReadonlyMap<string, Origin>): Map<string, string> {
  const found = new Map<string, Origin>();
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !fromFiles.has(name)) found.set(name, { value, where: `variable ${name}` });
  }
  for (const [name, origin] of fromFiles) found.set(name, origin);
  const references = new Map<string, string>();
  for (const [name, { value, where }] of found) {
    if (!looksLikeReference(value)) continue;
    try {
      parseReference(value);
    } catch (error) {
      throw usageError(`${where}: ${error instanceof Error ? error.message : String(error)}`);
    }
    references.set(name, value);
  }
  return references;
}

interface ReadPlan {
  readonly ids: readonly string[];
  /** Variable name to the reference it holds. */
  readonly references: ReadonlyMap<string, string>;
  readonly options: RunOptions;
}

/** The secrets `run` reads: the ids, then the referenced secrets (the store reads each once). */
function secretsOf(plan: ReadPlan): string[] {
  const referenced = [...new Set(plan.references.values())].map((text) => parseReference(text).secretId);
  return [...plan.ids, ...referenced];
}

/** One read of every secret `run` needs (missing ones left out), through the batch path. */
function readSecrets(store: SecretStore, plan: ReadPlan): Promise<Map<string, SecretReadResult>> {
  return store.getManySecretValues(secretsOf(plan), { concurrency: plan.options.concurrency, onMissing: "skip" });
}

/**
 * The variables `run` injects, from the secrets read: each reference's value under its variable,
 * then each id's keys (which win). Throws for a missing secret or key, and for what cannot be a
 * variable.
 */
async function variablesFrom(
  context: CliContext,
  plan: ReadPlan,
  results: ReadonlyMap<string, SecretReadResult>,
): Promise<Record<string, string>> {
  const { ids, references, options } = plan;
  const variables: Record<string, string> = {};
  const resolved = await readReferences(references.values(), {
    getManySecretValues: async () => new Map(results),
  });
  for (const [name, text] of references) {
    const value = resolved.get(text) as string;
    if (value.includes("\0")) {
      throw usageError(
        `the value of ${name}'s reference contains a NUL byte, which an environment variable cannot carry`,
      );
    }
    variables[name] = value;
  }
  context.remember(Object.fromEntries(resolved));
  // Applied in the order of each id's last place on the command line: the later id wins.
  const lastPlace = new Map(ids.map((id, place) => [canonicalSecretId(id), place]));
  for (const secretId of lastPlace.keys()) if (!results.has(secretId)) throw new SecretNotFoundError(secretId);
  const ordered = [...lastPlace.keys()].sort((x, y) => (lastPlace.get(x) ?? 0) - (lastPlace.get(y) ?? 0));
  const from = new Map<string, string>();
  for (const secretId of ordered) {
    const result = results.get(secretId) as SecretReadResult;
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
  return variables;
}

function sameVariables(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

interface WatchSettings {
  readonly program: string;
  readonly args: readonly string[];
  readonly environment: (injected: Record<string, string>) => NodeJS.ProcessEnv;
  readonly output: ChildOutput;
  readonly intervalMs: number;
  readonly graceMs: number;
}

/**
 * `run --watch`: starts the command, and watches what it was given (`store.watch`, starting from
 * the values read for it: an unchanged interval costs the revision checks only); when a variable
 * changed, stops it (SIGTERM, the grace period, SIGKILL) and starts it again with the new values.
 * Ends with the command's code once it exits by itself. A read that fails (a deleted secret, an
 * unreachable provider) is a warning: the command keeps running with what it has.
 */
async function runWatching(
  context: CliContext,
  store: SecretStore,
  plan: ReadPlan,
  settings: WatchSettings,
): Promise<number> {
  const secrets = await readSecrets(store, plan);
  let injected = await variablesFrom(context, plan, secrets);
  const polling = new AbortController();
  const updates = variableUpdates(context, store, plan, { secrets, injected }, settings.intervalMs, polling.signal);
  let update = updates.next();
  try {
    for (;;) {
      for (const value of Object.values(injected)) settings.output.masked.add(value);
      const child = startChild(settings.program, settings.args, settings.environment(injected), settings.output);
      const outcome = await Promise.race([
        child.exited.then((code) => ({ code })),
        update.then((next) => ({ next: next.done ? undefined : next.value })),
      ]);
      if ("code" in outcome) return outcome.code;
      if (outcome.next === undefined) return await child.exited;
      await stopChild(child, settings.graceMs);
      injected = outcome.next;
      update = updates.next();
    }
  } finally {
    // Also when the command could not start: no poll may outlive the store.
    polling.abort();
    await update.catch(() => undefined);
  }
}

/**
 * Yields the variables each time a watched secret's change makes them differ from those injected
 * last, until `signal` aborts. Each change is applied to `secrets` and the variables computed
 * again from them (references resolved from the values read). A failure (a deleted secret, a
 * variable that cannot be, a provider unreachable or refusing) is a warning, each distinct message
 * once; a watch ended by a failure starts again an interval later, from the values known.
 */
async function* variableUpdates(
  context: CliContext,
  store: SecretStore,
  plan: ReadPlan,
  start: { secrets: Map<string, SecretReadResult>; injected: Record<string, string> },
  intervalMs: number,
  signal: AbortSignal,
): AsyncGenerator<Record<string, string>, void, undefined> {
  const { secrets } = start;
  let injected = start.injected;
  // Each message once until the variables can be computed again: an outage of several secrets
  // goes to onError once per secret per poll, and must not print a pair of lines every interval.
  const warned = new Set<string>();
  const warn = (error: unknown) => {
    const message = redactValues(
      `omnisecret: warning: --watch could not read the secrets (${isSecretStoreError(error) ? `${error.code}: ` : ""}${error instanceof Error ? error.message : String(error)}); the command keeps running with the values it has\n`,
      context.seenValues,
    );
    if (!warned.has(message)) context.io.stderr(message);
    warned.add(message);
  };
  for (;;) {
    const since = new Map<string, SecretValues>();
    for (const [id, result] of secrets) if ("values" in result) since.set(id, result.values);
    try {
      const changes = store.watch(secretsOf(plan), {
        intervalMs,
        concurrency: plan.options.concurrency,
        signal,
        since,
        onError: warn,
      });
      for await (const change of changes) {
        if (change.kind === "deleted") secrets.delete(change.id);
        else secrets.set(change.id, { values: change.values });
        let next: Record<string, string>;
        try {
          next = await variablesFrom(context, plan, secrets);
        } catch (error) {
          warn(error);
          continue;
        }
        warned.clear();
        if (sameVariables(injected, next)) continue;
        injected = next;
        yield next;
      }
      return;
    } catch (error) {
      if (signal.aborted) return;
      warn(error);
    }
    try {
      await sleep(intervalMs, undefined, { signal });
    } catch {
      return;
    }
  }
}

/** SIGTERM, then SIGKILL if the command is still running after `graceMs`. */
async function stopChild(child: RunningChild, graceMs: number): Promise<void> {
  child.kill("SIGTERM");
  const timer = new AbortController();
  const ended = await Promise.race([
    child.exited.then(() => true),
    sleep(graceMs, false, { signal: timer.signal }).catch(() => false),
  ]);
  timer.abort();
  if (!ended) {
    child.kill("SIGKILL");
    await child.exited;
  }
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

/** Where the command's output goes, and the values masked in it (every value injected so far). */
interface ChildOutput {
  readonly masking: boolean;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly masked: Set<string>;
}

interface RunningChild {
  /** Its exit code, or 128 + the signal's number if a signal ended it (as shells do), once its output is all passed on. */
  readonly exited: Promise<number>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts the command with `env`; signals the CLI receives are passed on. Without masking its
 * stdio is the CLI's own; with it, its stdout and stderr are pipes copied through a masker.
 */
function startChild(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  output: ChildOutput,
): RunningChild {
  const child = spawn(command, args, { stdio: output.masking ? ["inherit", "pipe", "pipe"] : "inherit", env });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  const cleanUp = () => {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
  };
  const copies: Promise<void>[] = [];
  if (output.masking && child.stdout && child.stderr) {
    const patterns = maskPatterns(output.masked);
    for (const [from, to] of [
      [child.stdout, output.stdout],
      [child.stderr, output.stderr],
    ] as const) {
      // The CLI's own stream stays open for the next command (--watch) and its own messages; a
      // reader gone away (EPIPE) ends the copy, and the command then sees its pipe closed.
      copies.push(pipeline(from, maskingStream(patterns), to, { end: false }).catch(() => undefined));
    }
  }
  const exited = new Promise<number>((resolve, reject) => {
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
  }).then(async (code) => {
    await Promise.all(copies);
    return code;
  });
  return { exited, kill: (signal) => child.kill(signal) };
}

/** A stream over one of the CliIo's text writers (in-process runs, tests). */
function textWriter(write: (text: string) => void): Writable {
  const decoder = new StringDecoder("utf8");
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      write(decoder.write(chunk));
      callback();
    },
  });
}
