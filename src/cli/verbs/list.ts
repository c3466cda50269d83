import type { CliContext } from "../context.js";

export function registerList(context: CliContext): void {
  const command = context
    .verb("list")
    .description("print the ids of the secrets this store owns, one per line")
    .action(async () => {
      await context.withStore(command, async (store) => {
        for await (const id of store.listSecretIds()) context.io.stdout(`${id}\n`);
      });
    });
}
