/**
 * Issue 20, items 1, 2 and 6, through the CLI: the copies that could empty a store or cross a
 * namespace are refused (exit 2) before anything is read, and nothing stored changes.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SecretStore } from "../secret-store.js";
import { markedSecretValue } from "../testing/index.js";
import { EXIT_BAD_INPUT, EXIT_OK } from "./program.js";
import { cliRunner } from "./run-cli.test-helper.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-moving-"));
const cli = cliRunner({});
/** What `markedSecretValue` gives every seeded secret: no output may carry one. */
const SEEDED_VALUE = /s3cr3t-/;

/** A local store at `path` holding `count` secrets; returns their ids. */
async function seed(path: string, count: number, config: Record<string, unknown> = {}): Promise<string[]> {
  const store = await SecretStore.create({ provider: "local", path, ...config });
  const ids = Array.from({ length: count }, () => randomUUID());
  for (const id of ids) await store.storeSecretValues(id, { secret: markedSecretValue() });
  await store.close();
  return ids;
}

async function countAt(path: string, config: Record<string, unknown> = {}): Promise<number> {
  const store = await SecretStore.create({ provider: "local", path, ...config });
  let count = 0;
  for await (const _ of store.listSecretIds()) count += 1;
  await store.close();
  return count;
}

function configFile(config: Record<string, unknown>): string {
  const file = join(directory, `config-${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

describe("copies that would lose the source are refused (item 1)", () => {
  it("migrate from a store to itself, with --delete-source: exit 2, nothing deleted", async () => {
    const path = join(directory, `same-${randomUUID()}.db`);
    await seed(path, 3);
    const file = configFile({ provider: "local", path });
    const other = configFile({ provider: "local", path: join(directory, ".", `same-${path.split("same-")[1]}`) });
    for (const to of [file, other]) {
      const result = await cli(["migrate", "--from", file, "--to", to, "--delete-source"]);
      expect(result.code).toBe(EXIT_BAD_INPUT);
      expect(result.stderr).toContain("the target is the source itself");
      expect(result.stdout + result.stderr).not.toMatch(SEEDED_VALUE);
      expect(await countAt(path)).toBe(3);
    }
  });

  it("migrate --delete-source into a memory store: exit 2, nothing deleted; without it the copy runs", async () => {
    const path = join(directory, `to-memory-${randomUUID()}.db`);
    await seed(path, 2);
    const from = configFile({ provider: "local", path });
    const memory = configFile({ provider: "memory" });
    const refused = await cli(["migrate", "--from", from, "--to", memory, "--delete-source"]);
    expect(refused.code).toBe(EXIT_BAD_INPUT);
    expect(refused.stderr).toContain("does not outlive this process");
    expect(refused.stdout + refused.stderr).not.toMatch(SEEDED_VALUE);
    expect(await countAt(path)).toBe(2);
    expect((await cli(["migrate", "--from", from, "--to", memory])).code).toBe(EXIT_OK);
    expect(await countAt(path)).toBe(2);
  });

  it("backup --delete-secrets into a memory backup: exit 2, nothing deleted", async () => {
    const path = join(directory, `memory-backup-${randomUUID()}.db`);
    await seed(path, 2);
    const env = { OMNISECRET_LOCAL_PATH: path, OMNISECRET_BACKUP_CONFIG: JSON.stringify({ provider: "memory" }) };
    const result = await cli(["backup", "--delete-secrets"], { env });
    expect(result.code).toBe(EXIT_BAD_INPUT);
    expect(result.stderr).toContain("does not outlive this process");
    expect(result.stdout + result.stderr).not.toMatch(SEEDED_VALUE);
    expect(await countAt(path)).toBe(2);
  });

  it("the same store twice through the library: refused before any read", async () => {
    const store = await SecretStore.create({ provider: "memory" });
    const { copySecrets } = await import("../copy-secrets.js");
    await expect(copySecrets(store, store, { deleteSource: true })).rejects.toMatchObject({ code: "E_CONFIG" });
    await store.close();
  });
});

describe("the primary's own file in another spelling is not a backup (item 2)", () => {
  const savedDataHome = process.env.XDG_DATA_HOME;
  afterEach(() => {
    if (savedDataHome === undefined) delete process.env.XDG_DATA_HOME;
    else process.env.XDG_DATA_HOME = savedDataHome;
  });

  it("through a symbolic link to its folder: exit 2, nothing deleted", async () => {
    const real = join(directory, `real-${randomUUID()}`);
    mkdirSync(real);
    const link = join(directory, `link-${randomUUID()}`);
    symlinkSync(real, link);
    const path = join(real, "secrets.db");
    await seed(path, 3);
    const env = {
      OMNISECRET_LOCAL_PATH: path,
      OMNISECRET_BACKUP_CONFIG: JSON.stringify({ provider: "local", path: join(link, "secrets.db") }),
    };
    const result = await cli(["backup", "--delete-secrets"], { env });
    expect(result.code).toBe(EXIT_BAD_INPUT);
    expect(result.stderr).toContain("the backup points at the primary's own location");
    expect(result.stdout + result.stderr).not.toMatch(SEEDED_VALUE);
    expect(await countAt(path)).toBe(3);
  });

  it("as the default path written out while the primary leaves path unset: exit 2, nothing deleted", async () => {
    process.env.XDG_DATA_HOME = join(directory, `data-${randomUUID()}`);
    const defaultPath = join(process.env.XDG_DATA_HOME, "omnisecret", "secrets.db");
    await seed(defaultPath, 2);
    const env = { OMNISECRET_BACKUP_CONFIG: JSON.stringify({ provider: "local", path: defaultPath }) };
    const result = await cli(["backup", "--delete-secrets"], { env });
    expect(result.code).toBe(EXIT_BAD_INPUT);
    expect(result.stderr).toContain("the backup points at the primary's own location");
    expect(result.stdout + result.stderr).not.toMatch(SEEDED_VALUE);
    expect(await countAt(defaultPath)).toBe(2);
  });
});

describe("a backup shared by two configs keeps each one's namespace (item 6)", () => {
  it("app A neither lists nor reads nor restores app B's secret", async () => {
    const sharedBackup = { provider: "local", path: join(directory, `shared-backup-${randomUUID()}.db`) };
    const appA = { provider: "local", prefix: "app-a", path: join(directory, `a-${randomUUID()}.db`) };
    const appB = { provider: "local", prefix: "app-b", path: join(directory, `b-${randomUUID()}.db`) };
    const a = await SecretStore.create({ ...appA, backup: sharedBackup });
    const b = await SecretStore.create({ ...appB, backup: sharedBackup });
    const [idA, idB] = [randomUUID(), randomUUID()];
    await a.storeSecretValues(idA, { owner: "a" });
    await b.storeSecretValues(idB, { owner: "b" });
    const listedByA: string[] = [];
    for await (const id of a.listSecretIds()) listedByA.push(id);
    expect(listedByA).toEqual([idA]);
    await expect(a.getSecretValues(idB)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await Promise.all([a.close(), b.close()]);

    const restored = await cli(["restore"], {
      env: { OMNISECRET_CONFIG: configFile({ ...appA, backup: sharedBackup }) },
    });
    expect(restored.code).toBe(EXIT_OK);
    expect(restored.stdout).toContain("copied 1 of 1");
    expect(await countAt(appA.path, { prefix: "app-a" })).toBe(1);
  });
});
