import type { CliContext } from "../context.js";
import { addValuesInput, readValuesInput, type ValuesInputOptions } from "../values-input.js";

export function registerStore(context: CliContext): void {
  const command = addValuesInput(
    context
      .verb("store")
      .description("store a new secret; fails with exit code 2 if the id exists")
      .argument("<id>", "the secret's UUID"),
  ).action(async (id: string, pairs: string[], options: ValuesInputOptions) => {
    const values = await readValuesInput(context, pairs, options);
    await context.withStore(command, (store) => store.storeSecretValues(id, values));
  });
}
