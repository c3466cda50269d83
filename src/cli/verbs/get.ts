import type { SecretValues } from "../../contract.js";
import { type CliContext, CliExitError, EXIT_NOT_FOUND, positiveInteger, usageError } from "../context.js";

export function registerGet(context: CliContext): void {
  const { io } = context;
  const command = context
    .verb("get")
    .description("print a secret's values as JSON (several ids: an object keyed by id), or one raw value with --key")
    .argument("<ids...>", "the secrets' UUIDs")
    .option("-k, --key <key>", "print only this key's value, raw (one id only)")
    .option(
      "--version <version>",
      'read this version: "previous" or a token from `omnisecret versions` (one id only; default the latest)',
    )
    .option("--concurrency <n>", "reads at once, for several ids", positiveInteger, 8)
    .action(async (ids: string[], options: { key?: string; version?: string; concurrency: number }) => {
      const [id] = ids as [string];
      if (ids.length > 1) {
        if (options.key !== undefined) throw usageError("--key takes one id");
        if (options.version !== undefined) throw usageError("--version takes one id");
        await context.withStore(command, async (store) => {
          const results = await store.getManySecretValues(ids, { concurrency: options.concurrency });
          const output: Record<string, SecretValues> = {};
          for (const [secretId, result] of results) {
            if ("error" in result) throw result.error;
            output[secretId] = result.values;
          }
          io.stdout(`${JSON.stringify(output, null, 2)}\n`);
        });
        return;
      }
      await context.withStore(command, async (store) => {
        const values = await store.getSecretValues(id, { version: options.version });
        if (options.key === undefined) {
          io.stdout(`${JSON.stringify(values, null, 2)}\n`);
          return;
        }
        if (!Object.hasOwn(values, options.key)) {
          throw new CliExitError(
            `secret ${id.toLowerCase()} has no key ${JSON.stringify(options.key)}`,
            EXIT_NOT_FOUND,
          );
        }
        io.stdout(`${values[options.key]}${io.stdoutIsTty ? "\n" : ""}`);
      });
    });
}
