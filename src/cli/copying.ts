/** What `backup`, `restore` and `migrate` share: their options, the copy with its progress, and its summary. */
import type { Command } from "commander";
import { type CopyProgress, type CopySummary, copySecrets, openPrimaryAndBackup } from "../copy-secrets.js";
import { errorCodeOf } from "../errors.js";
import type { SecretStore } from "../secret-store.js";
import { compareWithProgress, formatComparison } from "./comparing.js";
import { type CliContext, CliExitError, EXIT_FAILURE, positiveInteger } from "./context.js";
import { progressReporter } from "./progress.js";

export interface CopyCommandOptions {
  dryRun?: boolean;
  overwrite?: boolean;
  concurrency: number;
}

export function addCopyOptions(command: Command): Command {
  return command
    .option("--dry-run", "read both sides and report what would be done; write and delete nothing")
    .option("--overwrite", "replace a target secret that has other values (by default it is left alone, a conflict)")
    .option("--concurrency <n>", "secrets copied at once", positiveInteger, 8);
}

/**
 * `backup` and `restore`: the configured primary and its backup, copied one way or the other,
 * `--delete-secrets` deleting each copied source secret.
 */
export function registerBackupCopy(
  context: CliContext,
  verb: "backup" | "restore",
  description: string,
  deleteDescription: string,
): void {
  const command = addCopyOptions(
    context.verb(verb).description(description).option("--delete-secrets", deleteDescription),
  ).action(async (options: CopyCommandOptions & { deleteSecrets?: boolean }) => {
    const { primary, backup } = await openPrimaryAndBackup(context.storeConfig(command));
    const [from, to] = verb === "backup" ? [primary, backup] : [backup, primary];
    await copyBetween(context, verb, from, to, options, options.deleteSecrets === true);
  });
}

/**
 * Copies every secret of `from` to `to` with a progress display, closes both, and prints the
 * summary; with `closingDiff` (migrate), then compares the copied ids on both sides and prints
 * that too, without changing the exit code (each copy was already read back and compared: this
 * second look catches a write made on either side while the run went on).
 */
export async function copyBetween(
  context: CliContext,
  label: string,
  from: SecretStore,
  to: SecretStore,
  options: CopyCommandOptions,
  deleteSource: boolean,
  closingDiff = false,
): Promise<void> {
  const { io } = context;
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const reporter = progressReporter<CopyProgress>({
    label,
    counts: (progress) => `copied ${progress.copied}, skipped ${progress.skipped}, failed ${progress.failed}`,
    stream: io.progressStream,
    writeLine: (line) => io.stderr(`${line}\n`),
  });
  let summary: CopySummary;
  let diffText = "";
  try {
    summary = await copySecrets(from, to, {
      concurrency: options.concurrency,
      dryRun: options.dryRun === true,
      overwrite: options.overwrite === true ? "replace" : "never",
      deleteSource,
      signal: controller.signal,
      onProgress: (progress) => reporter.update(progress),
    });
    reporter.stop();
    if (closingDiff && !summary.dryRun && !summary.aborted && summary.copied.length > 0) {
      diffText = deleteSource
        ? "diff: not run, the copied secrets' sources were deleted\n"
        : await closingComparison(context, from, to, summary.copied, options.concurrency);
    }
  } finally {
    reporter.stop();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await Promise.allSettled([from.close(), to.close()]);
  }
  io.stdout(formatSummary(summary) + diffText);
  if (summary.failed.length > 0 || summary.aborted) {
    throw new CliExitError(
      summary.aborted
        ? `${label} was interrupted after ${summary.copied.length + summary.failed.length + summary.skipped.length} of ${summary.total} secrets; run it again to finish`
        : `${label}: ${summary.failed.length} of ${summary.total} secrets were not copied`,
      EXIT_FAILURE,
    );
  }
}

async function closingComparison(
  context: CliContext,
  from: SecretStore,
  to: SecretStore,
  ids: readonly string[],
  concurrency: number,
): Promise<string> {
  try {
    const diff = await compareWithProgress(context, "diff", from, to, { concurrency, ids });
    return `diff of the copied secrets: ${formatComparison(diff, false)}`;
  } catch (error) {
    // The copy itself is done and verified: a failed second look is reported, not an exit code.
    return `diff of the copied secrets: not finished (${errorCodeOf(error) ?? "E_UNKNOWN"})\n`;
  }
}

function formatSummary(summary: CopySummary): string {
  const lines = [
    `${summary.dryRun ? "dry run (nothing written or deleted): would copy" : "copied"} ${summary.copied.length} of ${summary.total} (${summary.alreadyPresent} already there), skipped ${summary.skipped.length}, failed ${summary.failed.length}${summary.dryRun ? "" : `, deleted ${summary.deleted}`}${summary.aborted ? " (interrupted)" : ""}`,
    ...summary.skipped.map((id) => `skipped ${id}: gone from the source`),
    ...summary.failed.map((failure) => `failed ${failure.id}: ${failure.code}: ${failure.message}`),
  ];
  return `${lines.join("\n")}\n`;
}
