import type { SecretVersion } from "../../contract.js";
import type { CliContext } from "../context.js";

export function registerVersions(context: CliContext): void {
  const { io } = context;
  const command = context
    .verb("versions")
    .description("list a secret's versions, newest first: a table on a terminal, JSON otherwise or with --json")
    .argument("<id>", "the secret's UUID")
    .option("--json", "print JSON even on a terminal")
    .action(async (id: string, options: { json?: boolean }) => {
      await context.withStore(command, async (store) => {
        const versions = await store.listSecretVersions(id);
        // A terminal gets a table; a pipe (a script) gets JSON, as with --json.
        if (options.json === true || io.stdoutIsTty !== true) io.stdout(`${JSON.stringify(versions, null, 2)}\n`);
        else io.stdout(versionsTable(versions));
      });
    });
}

/** One line per version under a header, columns padded: token, creation time, current, readable. */
export function versionsTable(versions: readonly SecretVersion[]): string {
  const rows = [
    ["TOKEN", "CREATED", "CURRENT", "READABLE"],
    ...versions.map((version) => [
      version.token,
      version.createdAt.toISOString(),
      version.current ? "yes" : "",
      version.readable ? "yes" : "no",
    ]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] as string).length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] as number))
        .join("  ")
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("");
}
