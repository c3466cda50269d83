import { readConfigFile } from "../../config.js";
import { openPrimaryAndBackup } from "../../copy-secrets.js";
import { SecretStore } from "../../secret-store.js";
import { compareWithProgress, formatComparison } from "../comparing.js";
import { type CliContext, CliExitError, EXIT_FAILURE, positiveInteger, usageError } from "../context.js";

/** `diff`'s 1: the stores differ (as diff(1)), not "not found". */
const EXIT_DIFFER = 1;

export function registerDiff(context: CliContext): void {
  const command = context
    .verb("diff")
    .description(
      "compare two stores, each given as a JSON config file (without them: the primary and its backup), never showing a value",
    )
    .option("--from <file>", "JSON config file of one store")
    .option("--to <file>", "JSON config file of the other store")
    .option("--json", "print the result as JSON (every id, same ones included)")
    .option("--concurrency <n>", "reads at each store at once", positiveInteger, 8)
    .action(async (options: { from?: string; to?: string; json?: boolean; concurrency: number }) => {
      if ((options.from === undefined) !== (options.to === undefined)) {
        throw usageError("diff takes both --from and --to, or neither (the primary against its backup)");
      }
      const verbose = context.globalOptions(command).verbose === true;
      const { from, to } = await openSides(context, command, options.from, options.to);
      let summary: Awaited<ReturnType<typeof compareWithProgress>>;
      try {
        summary = await compareWithProgress(context, "diff", from, to, { concurrency: options.concurrency });
      } finally {
        await Promise.allSettled([from.close(), to.close()]);
      }
      context.io.stdout(options.json ? `${JSON.stringify(summary, null, 2)}\n` : formatComparison(summary, verbose));
      if (summary.errors > 0 || summary.aborted) {
        throw new CliExitError(
          summary.aborted
            ? "diff was interrupted before every secret was compared"
            : `diff: ${summary.errors} ${summary.errors === 1 ? "secret" : "secrets"} could not be read`,
          EXIT_FAILURE,
        );
      }
      if (!summary.identical) throw new CliExitError("the stores differ", EXIT_DIFFER, { silent: true });
    });
}

async function openSides(
  context: CliContext,
  command: Parameters<CliContext["storeConfig"]>[0],
  fromFile: string | undefined,
  toFile: string | undefined,
): Promise<{ from: SecretStore; to: SecretStore }> {
  if (fromFile === undefined || toFile === undefined) {
    // No backup configured: openPrimaryAndBackup's ConfigError says so, exit 2.
    const { primary, backup } = await openPrimaryAndBackup(context.storeConfig(command));
    return { from: primary, to: backup };
  }
  const from = await SecretStore.create(plainConfig(fromFile));
  try {
    return { from, to: await SecretStore.create(plainConfig(toFile)) };
  } catch (error) {
    await from.close();
    throw error;
  }
}

/** A diff config file: one plain store (its reads would otherwise fall back to its backup's answers). */
function plainConfig(file: string): Record<string, unknown> {
  const config = readConfigFile(file);
  if ("backup" in config) {
    throw usageError(`${file} configures a backup store; diff --from/--to compares two plain stores: remove "backup"`);
  }
  return config;
}
