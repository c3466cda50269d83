import { readConfigFile } from "../../config.js";
import { SecretStore } from "../../secret-store.js";
import { type CliContext, usageError } from "../context.js";
import { addCopyOptions, type CopyCommandOptions, copyBetween } from "../copying.js";

export function registerMigrate(context: CliContext): void {
  addCopyOptions(
    context
      .verb("migrate")
      .description("copy every secret from one store to another, each given as a JSON config file")
      .requiredOption("--from <file>", "JSON config file of the source store")
      .requiredOption("--to <file>", "JSON config file of the target store")
      .option("--delete-source", "delete each source secret once its copy was verified on the target"),
  ).action(async (options: CopyCommandOptions & { from: string; to: string; deleteSource?: boolean }) => {
    const from = await SecretStore.create(migrateConfig(options.from));
    let to: SecretStore;
    try {
      to = await SecretStore.create(migrateConfig(options.to));
    } catch (error) {
      await from.close();
      throw error;
    }
    await copyBetween(context, "migrate", from, to, options, options.deleteSource === true, true);
  });
}

/** A migrate config file: a store of its own, so `backup` in it is refused. */
function migrateConfig(file: string): Record<string, unknown> {
  const config = readConfigFile(file);
  if ("backup" in config) {
    throw usageError(`${file} configures a backup store; migrate copies between two plain stores: remove "backup"`);
  }
  return config;
}
