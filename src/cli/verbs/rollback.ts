import type { CliContext } from "../context.js";

export function registerRollback(context: CliContext): void {
  const command = context
    .verb("rollback")
    .description("make a secret's previous values current again, as a new version (a second rollback undoes it)")
    .argument("<id>", "the secret's UUID")
    .action(async (id: string) => {
      await context.withStore(command, (store) => store.rollbackSecretValues(id));
    });
}
