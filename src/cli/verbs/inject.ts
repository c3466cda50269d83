/**
 * `inject -i <template> [-o <file>]`: a text file with every `{{ omnisecret://<uuid>/<key> }}`
 * replaced by the value it names. One regular expression does it: the placeholders are all there
 * is (no loops, conditions or escaping), so a template engine would only add a dependency and
 * syntax of its own to learn. Strict: a malformed reference is exit 2 naming its line, a missing
 * secret or key exit 1, both before anything is written; the output is written with mode 0600 to
 * a temporary file beside it, then renamed over it, so a reader never sees half a file.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { errorCodeOf } from "../../errors.js";
import { parseReference, readReferences } from "../../references.js";
import { type CliContext, usageError } from "../context.js";

/** `{{ omnisecret://... }}`, blanks inside the braces optional; the reference is one token. */
const PLACEHOLDER = /\{\{[ \t]*(omnisecret:\/\/[^\s{}]*)[ \t]*\}\}/g;

export function registerInject(context: CliContext): void {
  const command = context.verb("inject");
  command
    .description("render a template: replace every {{ omnisecret://<uuid>/<key> }} with its value")
    .requiredOption("-i, --in <template>", "the template, a UTF-8 text file")
    .option("-o, --out <file>", "write here (mode 0600, atomically) instead of to stdout")
    .action(async (options: { in: string; out?: string }) => {
      const bytes = readInput(options.in);
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        throw usageError(`template ${options.in} is not UTF-8 text`);
      }
      if (options.out !== undefined) refuseSameFile(options.in, options.out);
      const references = new Set<string>();
      for (const match of text.matchAll(PLACEHOLDER)) {
        const reference = match[1] as string;
        try {
          parseReference(reference);
        } catch (error) {
          const line = text.slice(0, match.index).split("\n").length;
          throw usageError(`template ${options.in}, line ${line}: ${error instanceof Error ? error.message : error}`);
        }
        references.add(reference);
      }
      let resolved = new Map<string, string>();
      if (references.size > 0) {
        await context.withStore(command, async (store) => {
          resolved = await readReferences(references, store);
        });
        context.remember(Object.fromEntries(resolved));
      }
      const rendered = text.replace(PLACEHOLDER, (_match, reference: string) => resolved.get(reference) as string);
      if (options.out === undefined) context.io.stdout(rendered);
      else writeAtomically(options.out, rendered);
    });
}

function readInput(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw usageError(`cannot read template ${file} (${String(errorCodeOf(error) ?? "error")})`);
  }
}

/** Refuses an output that is the template: the same path, a link to it, or the same inode. */
function refuseSameFile(template: string, out: string): void {
  const refused = () => usageError(`refusing to write the output over the template ${template}`);
  if (resolve(template) === resolve(out)) throw refused();
  const templateStat = statSync(template);
  let outStat: ReturnType<typeof statSync> | undefined;
  try {
    outStat = statSync(out);
  } catch {}
  if (outStat !== undefined && outStat.dev === templateStat.dev && outStat.ino === templateStat.ino) throw refused();
  let outDirectory: string;
  try {
    outDirectory = realpathSync(dirname(resolve(out)));
  } catch (error) {
    throw usageError(`cannot write ${out}: its directory is missing (${String(errorCodeOf(error) ?? "error")})`);
  }
  if (join(outDirectory, basename(out)) === realpathSync(template)) throw refused();
}

/** A temporary file in the output's directory (so the rename stays on one file system), mode 0600, then renamed. */
function writeAtomically(out: string, text: string): void {
  const temporary = join(dirname(resolve(out)), `.${basename(out)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    writeFileSync(temporary, text, { mode: 0o600, flag: "wx" });
    renameSync(temporary, out);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
