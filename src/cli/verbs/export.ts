import { Option } from "commander";
import type { CliContext } from "../context.js";
import { formatDotenv, formatShell } from "../dotenv.js";

export function registerExport(context: CliContext): void {
  const command = context
    .verb("export")
    .description("print a secret's values as JSON, a dotenv file or shell `export` lines")
    .argument("<id>", "the secret's UUID")
    .addOption(new Option("--format <format>", "output format").choices(["json", "dotenv", "shell"]).default("json"))
    .action(async (id: string, options: { format: "json" | "dotenv" | "shell" }) => {
      await context.withStore(command, async (store) => {
        const values = context.remember(await store.getSecretValues(id));
        if (options.format === "json") context.io.stdout(`${JSON.stringify(values, null, 2)}\n`);
        else context.io.stdout(options.format === "dotenv" ? formatDotenv(values) : formatShell(values));
      });
    });
}
