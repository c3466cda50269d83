/**
 * The README's examples of issue 15, run as the README shows them: the library example is
 * imported (its asserts are the checks), the shell example runs under bash with the built CLI.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { SecretStore } from "../src/index.js";

const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const guide = readFileSync(join(root, "docs", "backup-and-migration.md"), "utf8");

describe("README examples of backup, migration, batch reads and env injection", () => {
  it("docs/backup-and-migration.md shows examples/backup-and-migrate.mjs verbatim, and it runs", async () => {
    const example = readFileSync(join(import.meta.dirname, "backup-and-migrate.mjs"), "utf8");
    expect(guide).toContain(`\`\`\`js\n${example}\`\`\``);
    // Its asserts are the checks; "omnisecret" resolves to these sources (vitest.config.ts).
    const modulePath: string = "./backup-and-migrate.mjs";
    await import(/* @vite-ignore */ modulePath);
  });

  it("shows examples/cli-verbs.sh verbatim, and it runs with the built CLI", async () => {
    const script = readFileSync(join(import.meta.dirname, "cli-verbs.sh"), "utf8");
    expect(readme).toContain(`\`\`\`sh\n${script}\`\`\``);
    const work = mkdtempSync(join(tmpdir(), "omnisecret-cli-example-"));
    const bin = join(work, "bin");
    const shim = join(work, "omnisecret");
    writeFileSync(
      shim,
      `#!/bin/sh\nexec "${process.execPath}" "${join(root, "dist", "src", "cli", "main.js")}" "$@"\n`,
    );
    chmodSync(shim, 0o755);
    const stores = {
      from: { provider: "local", path: join(work, "app.db") },
      to: { provider: "local", path: join(work, "to.db") },
    };
    writeFileSync(join(work, "from.json"), JSON.stringify(stores.from));
    writeFileSync(join(work, "to.json"), JSON.stringify(stores.to));
    // The primary's path comes from OMNISECRET_LOCAL_PATH, as for every other line.
    writeFileSync(
      join(work, "with-backup.json"),
      JSON.stringify({ provider: "local", backup: { provider: "local", path: join(work, "backup.db") } }),
    );
    const [a, b] = [randomUUID(), randomUUID()];
    const { stdout } = await promisify(execFile)(
      "bash",
      ["-euo", "pipefail", join(import.meta.dirname, "cli-verbs.sh")],
      {
        cwd: work,
        env: { PATH: `${work}:${bin}:${process.env.PATH}`, OMNISECRET_LOCAL_PATH: stores.from.path, A: a, B: b },
      },
    );
    expect(JSON.parse(stdout.slice(0, stdout.indexOf("\n}\n") + 2))).toEqual({
      [a]: { DB_USER: "app", DB_PASSWORD: "s3cret" },
      [b]: { API_TOKEN: "t#0k==" },
    });
    expect(readFileSync(join(work, "b.env"), "utf8")).toBe("API_TOKEN='t#0k=='\n");
    // Backed up, then moved to to.json's store: both hold them, the source none.
    for (const config of [stores.to, { provider: "local", path: join(work, "backup.db") }]) {
      const store = await SecretStore.create(config);
      expect(await store.getSecretValues(b)).toEqual({ API_TOKEN: "t#0k==" });
      await store.close();
    }
    const source = await SecretStore.create(stores.from);
    await expect(source.getSecretValues(a)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await source.close();
  });
});
