/** What `backup`, `restore` and `migrate` share: their options, the copy with its progress, and its summary. */
import type { Command } from "commander";
import { type CopySummary, copySecrets, openPrimaryAndBackup } from "../copy-secrets.js";
import type { SecretStore } from "../secret-store.js";
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

/** Copies every secret of `from` to `to` with a progress display, closes both, and prints the summary. */
export async function copyBetween(
  context: CliContext,
  label: string,
  from: SecretStore,
  to: SecretStore,
  options: CopyCommandOptions,
  deleteSource: boolean,
): Promise<void> {
  const { io } = context;
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const reporter = progressReporter({
    label,
    stream: io.progressStream,
    writeLine: (line) => io.stderr(`${line}\n`),
  });
  let summary: CopySummary;
  try {
    summary = await copySecrets(from, to, {
      concurrency: options.concurrency,
      dryRun: options.dryRun === true,
      overwrite: options.overwrite === true ? "replace" : "never",
      deleteSource,
      signal: controller.signal,
      onProgress: (progress) => reporter.update(progress),
    });
  } finally {
    reporter.stop();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await Promise.allSettled([from.close(), to.close()]);
  }
  io.stdout(formatSummary(summary));
  if (summary.failed.length > 0 || summary.aborted) {
    throw new CliExitError(
      summary.aborted
        ? `${label} was interrupted after ${summary.copied.length + summary.failed.length + summary.skipped.length} of ${summary.total} secrets; run it again to finish`
        : `${label}: ${summary.failed.length} of ${summary.total} secrets were not copied`,
      EXIT_FAILURE,
    );
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
