/** What `diff` and `migrate`'s closing check share: a comparison with its progress display, and its text. */
import { type CompareEntry, type CompareProgress, type CompareSummary, compareStores } from "../compare-stores.js";
import type { SecretStore } from "../secret-store.js";
import type { CliContext } from "./context.js";
import { progressReporter } from "./progress.js";

/** Compares `from` and `to` (all ids, or `ids`) with a progress display on stderr; SIGINT or SIGTERM stops it. */
export async function compareWithProgress(
  context: CliContext,
  label: string,
  from: SecretStore,
  to: SecretStore,
  options: { concurrency: number; ids?: readonly string[] },
): Promise<CompareSummary> {
  const { io } = context;
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const reporter = progressReporter<CompareProgress>({
    label,
    counts: (progress) => `same ${progress.same}, different ${progress.different}, failed ${progress.failed}`,
    stream: io.progressStream,
    writeLine: (line) => io.stderr(`${line}\n`),
  });
  try {
    return await compareStores(from, to, {
      concurrency: options.concurrency,
      ...(options.ids === undefined ? {} : { ids: options.ids }),
      signal: controller.signal,
      onProgress: (progress) => reporter.update(progress),
    });
  } finally {
    reporter.stop();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

/** One line per id that is not `same` (every id with `verbose`), then the counts. Ids and key names only. */
export function formatComparison(summary: CompareSummary, verbose: boolean): string {
  const lines = summary.entries.filter((entry) => verbose || entry.status !== "same").map(entryLine);
  lines.push(summaryLine(summary));
  return `${lines.join("\n")}\n`;
}

export function summaryLine(summary: CompareSummary): string {
  const total = summary.entries.length;
  return `${summary.identical ? "identical" : "not identical"}: ${total} ${total === 1 ? "secret" : "secrets"}, same ${summary.same}, differs ${summary.differs}, only in from ${summary.onlyInFrom}, only in to ${summary.onlyInTo}, errors ${summary.errors}${summary.aborted ? " (interrupted)" : ""}`;
}

// Key names are JSON strings, so one with a newline or a comma stays one unambiguous line.
const keyList = (keys: readonly string[]) => keys.map((key) => JSON.stringify(key)).join(", ");

function entryLine(entry: CompareEntry): string {
  switch (entry.status) {
    case "differs": {
      const parts = [
        entry.changedKeys.length > 0 ? `changed ${keyList(entry.changedKeys)}` : "",
        entry.keysOnlyInFrom.length > 0 ? `only in from ${keyList(entry.keysOnlyInFrom)}` : "",
        entry.keysOnlyInTo.length > 0 ? `only in to ${keyList(entry.keysOnlyInTo)}` : "",
      ].filter((part) => part !== "");
      return `differs ${entry.id}: ${parts.join("; ")}`;
    }
    case "error":
      return `error ${entry.id} (${entry.side}): ${entry.code}: ${entry.message}`;
    default:
      return `${entry.status} ${entry.id}`;
  }
}
