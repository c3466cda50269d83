import type { CliContext } from "../context.js";

export function registerDelete(context: CliContext): void {
  const command = context
    .verb("delete")
    .description("delete a secret for good")
    .argument("<id>", "the secret's UUID")
    .action(async (id: string) => {
      await context.withStore(command, (store) => store.deleteSecretValues(id));
    });
}
