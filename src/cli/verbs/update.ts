import type { CliContext } from "../context.js";
import { addValuesInput, readValuesInput, type ValuesInputOptions } from "../values-input.js";

export function registerUpdate(context: CliContext): void {
  const command = addValuesInput(
    context
      .verb("update")
      .description("replace the whole map of an existing secret")
      .argument("<id>", "the secret's UUID"),
  ).action(async (id: string, pairs: string[], options: ValuesInputOptions) => {
    const values = await readValuesInput(context, pairs, options);
    await context.withStore(command, (store) => store.updateSecretValues(id, values));
  });
}
