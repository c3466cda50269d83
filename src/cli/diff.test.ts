/**
 * Issue 25, `diff` through the built CLI between two local stores: exactly the seeded
 * differences, the exit codes, and no seeded value in any output (`--json`, `--verbose`,
 * `NODE_DEBUG=omnisecret`). Local against vault: integration-tests/diff.test.ts.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectNoValueIn, seeded } from "../compare-stores.test-helper.js";
import { SecretStore } from "../secret-store.js";
import { runBuiltCli, writeConfig } from "./built-cli.test-helper.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-diff-cli-"));
const localConfig = () => ({ provider: "local", path: join(directory, `${randomUUID()}.db`) });

describe("diff between two local stores, through the built CLI", () => {
  it("prints exactly the seeded differences, exits 1, and shows no value anywhere", async () => {
    const fromConfig = localConfig();
    const toConfig = localConfig();
    const [from, to] = await Promise.all([SecretStore.create(fromConfig), SecretStore.create(toConfig)]);
    const { ids, values, diffLines } = await seeded(from, to);
    await Promise.all([from.close(), to.close()]);
    const args = ["diff", "--from", writeConfig(directory, fromConfig), "--to", writeConfig(directory, toConfig)];

    const plain = await runBuiltCli(args);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("diff: 8/8"); // progress, counts only
    expect(plain.stdout.split("\n").filter(Boolean).sort()).toEqual(diffLines);

    const verbose = await runBuiltCli([...args, "--verbose"], { debug: true });
    expect(verbose.code).toBe(1);
    expect(verbose.stdout).toContain(`same ${ids.same}\n`);
    expect(verbose.stdout).toContain(`same ${ids.unicode}\n`);
    expect(verbose.stderr).toContain("OMNISECRET"); // NODE_DEBUG's log is there, ids and operations only

    const json = await runBuiltCli([...args, "--json"]);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { entries: { id: string; status: string }[] };
    expect(Object.fromEntries(parsed.entries.map((entry) => [entry.id, entry.status]))).toEqual({
      [ids.same]: "same",
      [ids.unicode]: "same",
      [ids.changed]: "differs",
      [ids.keyAdded]: "differs",
      [ids.keyRemoved]: "differs",
      [ids.normalization]: "differs",
      [ids.onlyInFrom]: "only-in-from",
      [ids.onlyInTo]: "only-in-to",
    });

    const everything = [plain, verbose, json].map((run) => run.stdout + run.stderr).join("\n");
    expectNoValueIn(everything, values);
  });

  it("exits 0 for identical stores, 2 on bad usage or no backup, 3 when a store cannot be read", async () => {
    const fromConfig = localConfig();
    const toConfig = localConfig();
    const [from, to] = await Promise.all([SecretStore.create(fromConfig), SecretStore.create(toConfig)]);
    const id = randomUUID();
    await from.storeSecretValues(id, { k: "v" });
    await to.storeSecretValues(id, { k: "v" });
    await Promise.all([from.close(), to.close()]);
    const fromFile = writeConfig(directory, fromConfig);
    const toFile = writeConfig(directory, toConfig);
    const same = await runBuiltCli(["diff", "--from", fromFile, "--to", toFile]);
    expect(same).toMatchObject({
      code: 0,
      stdout: "identical: 1 secret, same 1, differs 0, only in from 0, only in to 0, errors 0\n",
    });

    expect((await runBuiltCli(["diff", "--from", fromFile])).code).toBe(2);
    const noBackup = await runBuiltCli(["diff"], { env: { OMNISECRET_LOCAL_PATH: fromConfig.path } });
    expect(noBackup.code).toBe(2);
    expect(noBackup.stderr).toContain("no backup store is configured");

    // The primary against its backup: the same secret on both sides.
    const withBackup = await runBuiltCli(["diff"], {
      env: { OMNISECRET_LOCAL_PATH: fromConfig.path, OMNISECRET_BACKUP_CONFIG: JSON.stringify(toConfig) },
    });
    expect(withBackup.code).toBe(0);

    // A store that cannot be listed (nothing listens there): exit 3, a failure, not a difference.
    const unreachable = writeConfig(directory, {
      provider: "vault",
      address: "http://127.0.0.1:1",
      token: "unused",
      maxAttempts: 1,
    });
    const failed = await runBuiltCli(["diff", "--from", fromFile, "--to", unreachable]);
    expect(failed.stderr).toContain("E_PROVIDER_UNAVAILABLE");
    expect(failed.code).toBe(3);
  });

  it("migrate ends with the diff of what it copied, exit codes unchanged", async () => {
    const fromConfig = localConfig();
    const from = await SecretStore.create(fromConfig);
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) await from.storeSecretValues(id, { k: `${id}-value` });
    await from.close();
    const result = await runBuiltCli([
      "migrate",
      "--from",
      writeConfig(directory, fromConfig),
      "--to",
      writeConfig(directory, localConfig()),
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "diff of the copied secrets: identical: 2 secrets, same 2, differs 0, only in from 0, only in to 0, errors 0\n",
    );
    expect(result.stdout).not.toContain("-value");
  });
});
