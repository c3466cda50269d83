/**
 * dotenv and shell text both ways, kept to what reads back exactly.
 *
 * Writing dotenv: a `.env` file is read by dotenv and, as often, by a shell (`set -a; . file`).
 * The one form both read as the same string is `KEY='value'` with no `'` and no carriage return in
 * the value (dotenv turns CRLF and CR into LF; a shell ends the quotes at a `'`, and what follows
 * runs as a command). Keys must be environment names, or `. file` fails. Any other value is
 * refused, naming its key: `--format shell` carries every value a shell can hold.
 *
 * Writing shell: `export KEY='value'` with each `'` written as `'\''`, which every POSIX shell
 * reads back exactly (newlines and CR included). No shell variable holds a NUL byte: refused.
 *
 * Reading is dotenv's own `parse` (no variable expansion, no command substitution).
 */
import { createRequire } from "node:module";
import type { SecretValues } from "../contract.js";

let dotenvParse: typeof import("dotenv").parse | undefined;

/**
 * dotenv's parser, required when first used (dotenv is CommonJS, so this is synchronous): a CLI
 * call that neither reads nor writes dotenv text does not load it.
 */
function parse(text: string): Record<string, string> {
  dotenvParse ??= (createRequire(import.meta.url)("dotenv") as typeof import("dotenv")).parse;
  return dotenvParse(text);
}

/** Environment variable names: what `export` and `set -a; . file` can assign. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const KEY_RULE = "letters, digits and _, not starting with a digit";

/** Bad dotenv or shell text, read or written: exit code 2. Its message names keys and lines, never values. */
export class DotenvError extends Error {
  override name = "DotenvError";
}

/** Refuses what no shell text can carry: a key that is no environment name, a NUL byte, a lone surrogate. */
function checkForShell(key: string, value: string, format: string): void {
  if (!ENV_NAME.test(key)) {
    throw new DotenvError(
      `key ${JSON.stringify(key)} cannot be written as ${format}: a key must be an environment variable name (${KEY_RULE}); use --format json`,
    );
  }
  if (value.includes("\0")) {
    throw new DotenvError(
      `the value of key ${JSON.stringify(key)} holds a NUL byte, which no shell variable can hold; use --format json`,
    );
  }
  if (/\p{Cs}/u.test(value)) {
    throw new DotenvError(
      `the value of key ${JSON.stringify(key)} is not valid Unicode text (a lone surrogate), which no text file carries; use --format json`,
    );
  }
}

export function formatDotenv(values: SecretValues): string {
  const text = Object.entries(values)
    .map(([key, value]) => {
      checkForShell(key, value, "dotenv");
      if (/['\r]/.test(value)) {
        throw new DotenvError(
          `the value of key ${JSON.stringify(key)} cannot be written as dotenv: it holds a single quote or a carriage return, and no dotenv line with one reads back the same in dotenv and in a shell (set -a; . file); use --format shell or --format json`,
        );
      }
      const line = `${key}='${value}'`;
      if (parse(line)[key] !== value) throw notTheSame(key);
      return `${line}\n`;
    })
    .join("");
  // The whole text reads back too (no line runs into the next).
  const back = parse(text);
  for (const [key, value] of Object.entries(values)) {
    if (back[key] !== value) throw notTheSame(key);
  }
  return text;
}

function notTheSame(key: string): DotenvError {
  return new DotenvError(
    `the value of key ${JSON.stringify(key)} does not read back the same as dotenv; use --format shell or --format json`,
  );
}

/** `export KEY='value'` lines, `'` written as `'\''`: every POSIX shell reads them back exactly. */
export function formatShell(values: SecretValues): string {
  return Object.entries(values)
    .map(([key, value]) => {
      checkForShell(key, value, "shell");
      return `export ${key}='${value.replaceAll("'", "'\\''")}'\n`;
    })
    .join("");
}

export function parseDotenv(text: string): SecretValues {
  return { ...parse(text) };
}
