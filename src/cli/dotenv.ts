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
 * Reading dotenv: a strict line reader decides, then dotenv's own `parse` must read every key the
 * same. A line is blank, a `#` comment, or `[export ]KEY=VALUE` with KEY an environment name and
 * VALUE empty, unquoted (no `#` anywhere, not starting with a quote; spaces and tabs around it are
 * trimmed, as dotenv does), single-quoted (literal, may span lines) or double-quoted (may span
 * lines; `\n` and `\r` become a newline and a carriage return), a quoted value optionally followed
 * by `# comment`. Anything else is refused with its line number, never its text (it may hold a
 * value): a value cut at `#`, or a line dotenv skips, would otherwise be stored without a word.
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
  // The whole text reads back too (no line runs into the next): the strict reader, which also
  // checks that dotenv's own parse reads every key the same.
  let strict: SecretValues | undefined;
  try {
    strict = parseDotenv(text);
  } catch {}
  for (const [key, value] of Object.entries(values)) {
    if (strict?.[key] !== value) throw notTheSame(key);
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

/** A quoted value may be followed by blanks and a comment, nothing else. */
const AFTER_QUOTE = /^[ \t]*(?:#.*)?$/;

/**
 * Reads dotenv text strictly (see the top of this file); `source` starts each error message
 * (`--from-dotenv file.env`, say).
 */
export function parseDotenv(text: string, source = "dotenv text"): SecretValues {
  return Object.fromEntries([...parseDotenvLines(text, source)].map(([key, { value }]) => [key, value]));
}

/** `parseDotenv`, with the line each key is on (for `run --env-file`'s errors). */
export function parseDotenvLines(text: string, source = "dotenv text"): Map<string, { value: string; line: number }> {
  // As dotenv does: CRLF and a lone CR are line breaks, and a byte order mark is no part of a key.
  const normalized = text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const found = new Map<string, { value: string; line: number }>();
  const refused = (line: number, why: string): DotenvError => new DotenvError(`${source}, line ${line}: ${why}`);
  let position = 0;
  let lineNumber = 1;
  while (position < normalized.length) {
    let end = normalized.indexOf("\n", position);
    if (end === -1) end = normalized.length;
    const line = normalized.slice(position, end);
    const start = lineNumber;
    if (/^[ \t]*(?:#.*)?$/.test(line)) {
      position = end + 1;
      lineNumber += 1;
      continue;
    }
    const equals = line.indexOf("=");
    if (equals === -1) throw refused(start, "not blank, a # comment or KEY=VALUE");
    const key = line
      .slice(0, equals)
      .replace(/^[ \t]*(?:export[ \t]+(?=\S))?/, "")
      .replace(/[ \t]+$/, "");
    if (!ENV_NAME.test(key)) throw refused(start, `the key is not an environment variable name (${KEY_RULE})`);
    const named = `the value of ${JSON.stringify(key)}`;
    let valueAt = position + equals + 1;
    while (normalized[valueAt] === " " || normalized[valueAt] === "\t") valueAt += 1;
    const first = valueAt < end ? normalized[valueAt] : undefined;
    let value: string;
    if (first === "'" || first === '"') {
      const close = normalized.indexOf(first, valueAt + 1);
      if (close === -1) throw refused(start, `${named} opens a quote that is never closed`);
      value = normalized.slice(valueAt + 1, close);
      if (first === '"') value = value.replace(/\\n/g, "\n").replace(/\\r/g, "\r");
      let closeEnd = normalized.indexOf("\n", close);
      if (closeEnd === -1) closeEnd = normalized.length;
      if (!AFTER_QUOTE.test(normalized.slice(close + 1, closeEnd))) {
        throw refused(start, `${named} has text after its closing quote (only a # comment may follow)`);
      }
      lineNumber += normalized.slice(position, closeEnd).split("\n").length - 1;
      end = closeEnd;
    } else if (first === "`") {
      throw refused(start, `${named} is in backticks: use single quotes`);
    } else {
      value = normalized.slice(valueAt, end).replace(/[ \t]+$/, "");
      if (value.includes("#")) {
        throw refused(
          start,
          `${named} is unquoted and holds #, where dotenv would cut it (a comment after an unquoted value is refused too): put the value in quotes`,
        );
      }
    }
    const earlier = found.get(key);
    if (earlier !== undefined) {
      throw refused(start, `key ${JSON.stringify(key)} is on lines ${earlier.line} and ${start}: keep one`);
    }
    found.set(key, { value, line: start });
    position = end + 1;
    lineNumber += 1;
  }
  // dotenv must read every key the same; it is what the file was written for.
  const reference = parse(text);
  for (const [key, { value, line }] of found) {
    if (!Object.hasOwn(reference, key) || reference[key] !== value) {
      throw refused(line, `dotenv reads the value of ${JSON.stringify(key)} differently: put it in single quotes`);
    }
  }
  if (Object.keys(reference).some((key) => !found.has(key))) {
    throw new DotenvError(`${source}: dotenv reads a key that is not on a line of its own; check the quotes`);
  }
  return found;
}
