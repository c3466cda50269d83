/**
 * dotenv text both ways. Reading is dotenv's own `parse` (no variable expansion, no command
 * substitution: a value is taken as written). Writing follows the quoting rules that parser
 * documents, because no kept writer round-trips them: dotenv-stringify escapes `"` with a
 * backslash that dotenv keeps, and envfile quotes nothing, so `#`, newlines and leading spaces
 * are lost (both seen with dotenv 18).
 *
 * The rules: a single-quoted or backtick-quoted value is taken literally, newlines included; a
 * double-quoted value turns `\n` and `\r` into a newline and a carriage return and is otherwise
 * literal. Each value is written in the first form that dotenv reads back as the same string
 * (every line is checked with the parser); a value no form can carry (one that holds `'`, `` ` ``
 * and `"` together with a line break, say) is refused, naming its key, never silently altered.
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

/** Keys dotenv reads: letters, digits, `_`, `.` and `-`. */
const DOTENV_KEY = /^[\w.-]+$/;

export class DotenvError extends Error {
  override name = "DotenvError";
}

export function parseDotenv(text: string): SecretValues {
  return { ...parse(text) };
}

export function formatDotenv(values: SecretValues): string {
  const text = Object.entries(values)
    .map(([key, value]) => `${formatLine(key, value)}\n`)
    .join("");
  // Each line reads back alone; the whole text is checked too (a line must not run into the next).
  const back = parse(text);
  for (const [key, value] of Object.entries(values)) {
    if (back[key] !== value) {
      throw new DotenvError(
        `the value of key ${JSON.stringify(key)} does not read back the same as dotenv; use --format json`,
      );
    }
  }
  return text;
}

function formatLine(key: string, value: string): string {
  if (!DOTENV_KEY.test(key)) {
    throw new DotenvError(
      `key ${JSON.stringify(key)} cannot be written as dotenv (keys are letters, digits, _, . and -); use --format json`,
    );
  }
  const candidates = [`'${value}'`, `\`${value}\``];
  // Double quotes carry carriage returns (as \r), which the other forms cannot: dotenv turns CRLF into LF first.
  if (!/\\[nr]/.test(value)) candidates.push(`"${value.replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`);
  for (const candidate of candidates) {
    const line = `${key}=${candidate}`;
    if (parse(line)[key] === value) return line;
  }
  throw new DotenvError(
    `the value of key ${JSON.stringify(key)} cannot be written as dotenv so that it reads back the same; use --format json`,
  );
}
