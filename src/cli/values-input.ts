/** How `store` and `update` take a secret's values: KEY=VALUE arguments, `--from-json` or `--from-dotenv`. */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { SecretValues } from "../contract.js";
import { describeInput, errorCodeOf } from "../errors.js";
import type { CliContext, CliIo } from "./context.js";
import { usageError } from "./context.js";
import { parseDotenv } from "./dotenv.js";

export interface ValuesInputOptions {
  fromJson?: string;
  fromDotenv?: string;
}

/** The `[pairs...]` argument and the `--from-json` / `--from-dotenv` options, after `<id>`. */
export function addValuesInput(command: Command): Command {
  return command
    .argument("[pairs...]", "values as KEY=VALUE")
    .option("--from-json <file|->", "read the values from a JSON object in a file, or - for stdin")
    .option("--from-dotenv <file|->", "read the values from a dotenv file, or - for stdin");
}

/** The values given on the command line, remembered by the context (so no error can print them). */
export async function readValuesInput(
  context: CliContext,
  pairs: readonly string[],
  options: ValuesInputOptions,
): Promise<SecretValues> {
  const { fromJson, fromDotenv } = options;
  if (fromJson !== undefined && fromDotenv !== undefined) {
    throw usageError("give --from-json or --from-dotenv, not both");
  }
  const values = {
    ...(fromJson === undefined ? {} : await readJsonValues(fromJson, context.io)),
    ...(fromDotenv === undefined
      ? {}
      : parseDotenv(
          await readSource("--from-dotenv", fromDotenv, context.io),
          `--from-dotenv ${fromDotenv === "-" ? "standard input" : fromDotenv}`,
        )),
    ...parsePairs(pairs),
  };
  if (fromJson === undefined && fromDotenv === undefined && pairs.length === 0) {
    throw usageError("give the values as KEY=VALUE arguments, or with --from-json or --from-dotenv <file|->");
  }
  return context.remember(values);
}

function parsePairs(pairs: readonly string[]): SecretValues {
  const entries = pairs.map((pair, index) => {
    const separator = pair.indexOf("=");
    if (separator <= 0) {
      // The argument itself is not echoed: it may be a value typed without its key.
      throw usageError(`values argument ${index + 1} must look like KEY=VALUE with a non-empty KEY`);
    }
    return [pair.slice(0, separator), pair.slice(separator + 1)] as const;
  });
  return Object.fromEntries(entries);
}

async function readSource(option: string, source: string, io: CliIo): Promise<string> {
  try {
    return source === "-" ? await io.readStdin() : readFileSync(source, "utf8");
  } catch (error) {
    throw usageError(
      `${option}: could not read ${source === "-" ? "standard input" : source} (${String(errorCodeOf(error) ?? "error")})`,
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
    throw usageError(`--from-json: ${where} is not valid JSON`);
  }
  // Anything but an object would be spread into a map of its indexes or characters (or into
  // nothing) and silently replace the secret, so it is refused here. Values that are not strings
  // are reported by the store's validation, which names the key.
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw usageError(
      `--from-json: ${where} must hold a JSON object of string keys to string values (got ${describeInput(parsed)})`,
    );
  }
  return parsed as SecretValues;
}
