import { execFile, execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { SecretStore } from "../../src/secret-store.js";
import { sqliteDriverName } from "./index.js";
import { loadSqliteDriver, sqliteErrorCode } from "./sqlite.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const directory = mkdtempSync(join(tmpdir(), "omnisecret-local-"));
const freshPath = () => join(directory, `${randomUUID()}.db`);
/** The driver the adapter uses in this process, for opening the database beside it. */
const driver = await loadSqliteDriver();

/**
 * Makes a file or directory read-only for this process. Root ignores permission bits, so as
 * root (as in CI) the file system's immutable flag does it; the undo runs after each test.
 */
const undoReadOnly: (() => void)[] = [];
function makeReadOnly(path: string, isDirectory: boolean): void {
  if (process.getuid?.() === 0) {
    execFileSync("chattr", ["+i", path]);
    undoReadOnly.push(() => execFileSync("chattr", ["-i", path]));
  } else {
    chmodSync(path, isDirectory ? 0o555 : 0o444);
    undoReadOnly.push(() => chmodSync(path, isDirectory ? 0o755 : 0o644));
  }
}
afterEach(() => {
  for (const undo of undoReadOnly.splice(0).reverse()) undo();
});

/** A store at a fresh path holding one secret, closed, so its WAL is folded into the file. */
async function closedStoreWithSecret(path = freshPath()): Promise<{ path: string; id: string }> {
  const store = await SecretStore.create({ provider: "local", path });
  const id = randomUUID();
  await store.storeSecretValues(id, { kept: "yes" });
  await store.close();
  return { path, id };
}

describe("local store", () => {
  it("creates a key file readable by its owner only, and keeps values encrypted on disk", async () => {
    const path = freshPath();
    const store = await SecretStore.create({ provider: "local", path });
    const id = randomUUID();
    const secret = `s3cr3t-${randomUUID()}`;
    await store.storeSecretValues(id, { password: secret });
    await store.close();

    expect(statSync(`${path}.key`).mode & 0o777).toBe(0o600);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(`${path}.key`, "utf8").trim(), "base64")).toHaveLength(32);
    for (const file of [path, `${path}-wal`]) {
      if (existsSync(file)) expect(readFileSync(file).includes(secret)).toBe(false);
    }
    const reopened = await SecretStore.create({ provider: "local", path });
    expect(await reopened.getSecretValues(id)).toEqual({ password: secret });
    await reopened.close();
  });

  it("uses a configured key instead of a key file", async () => {
    const path = freshPath();
    const key = Buffer.alloc(32, 1).toString("base64");
    const store = await SecretStore.create({ provider: "local", path, key });
    await store.close();
    expect(existsSync(`${path}.key`)).toBe(false);
  });

  it("refuses a wrong key with a coded error instead of returning garbage", async () => {
    const path = freshPath();
    const store = await SecretStore.create({ provider: "local", path, key: Buffer.alloc(32, 1).toString("base64") });
    await store.storeSecretValues(randomUUID(), { a: "b" });
    await store.close();
    const wrongKey = Buffer.alloc(32, 2).toString("base64");
    const error = await SecretStore.create({ provider: "local", path, key: wrongKey }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_CONFIG", field: "key", provider: "local" });
    expect((error as Error).message).toContain("not the key");
    expect((error as Error).message).not.toContain(wrongKey);
  });

  it("refuses to invent a new key when the key file of an encrypted database is missing", async () => {
    const path = freshPath();
    const store = await SecretStore.create({ provider: "local", path });
    await store.storeSecretValues(randomUUID(), { a: "b" });
    await store.close();
    unlinkSync(`${path}.key`);
    const error = await SecretStore.create({ provider: "local", path }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_CONFIG", field: "key" });
    expect((error as Error).message).toContain("key file");
    expect(existsSync(`${path}.key`)).toBe(false);
  });

  it("rejects a key that is not 32 bytes of base64, without echoing it", async () => {
    const error = await SecretStore.create({ provider: "local", path: freshPath(), key: "c2hvcnQta2V5" }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "E_CONFIG", field: "key" });
    expect((error as Error).message).not.toContain("c2hvcnQta2V5");
  });

  it("detects a ciphertext moved to another id as an integrity failure", async () => {
    const path = freshPath();
    const store = await SecretStore.create({ provider: "local", path });
    const [a, b] = [randomUUID(), randomUUID()];
    await store.storeSecretValues(a, { who: "a" });
    await store.storeSecretValues(b, { who: "b" });
    const db = driver.open(path);
    // The version number advances too, as the schema requires of every write of a ciphertext.
    db.prepare(
      "UPDATE omnisecret_secrets SET (nonce, ciphertext, auth_tag, version) = (SELECT nonce, ciphertext, auth_tag, version + 1 FROM omnisecret_secrets WHERE id = ?) WHERE id = ?",
    ).run(a, b);
    db.close();
    await expect(store.getSecretValues(b)).rejects.toMatchObject({ code: "E_SECRET_INTEGRITY", secretId: b });
    expect(await store.getSecretValues(a)).toEqual({ who: "a" });
    await store.close();
  });

  it("reports a file that is not a database as a config error", async () => {
    const error = await SecretStore.create({ provider: "local", path: join(root, "package.json") }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "E_CONFIG", field: "path" });
  });

  describe("failures of the database file (issue 12, item 7)", () => {
    it("reads while another process holds the write lock, and a blocked write is E_PROVIDER_UNAVAILABLE", async () => {
      const { path, id } = await closedStoreWithSecret();
      const other = driver.open(path);
      other.exec("BEGIN IMMEDIATE");
      try {
        const store = await SecretStore.create({ provider: "local", path, busyTimeoutMs: 100 });
        expect(await store.getSecretValues(id)).toEqual({ kept: "yes" });
        await expect(store.storeSecretValues(randomUUID(), { a: "b" })).rejects.toMatchObject({
          code: "E_PROVIDER_UNAVAILABLE",
        });
        await store.close();
      } finally {
        other.exec("ROLLBACK");
        other.close();
      }
    });

    it("reports a database locked against readers past busyTimeoutMs as E_PROVIDER_UNAVAILABLE, exit code 3", async () => {
      const { path, id } = await closedStoreWithSecret();
      const other = driver.open(path);
      // An exclusive lock in WAL mode keeps every other connection out, readers included.
      other.exec("PRAGMA locking_mode = EXCLUSIVE");
      other.exec("BEGIN EXCLUSIVE");
      try {
        await expect(SecretStore.create({ provider: "local", path, busyTimeoutMs: 100 })).rejects.toMatchObject({
          code: "E_PROVIDER_UNAVAILABLE",
        });
        const cli = await run(process.execPath, ["dist/src/cli/main.js", "get", id], {
          cwd: root,
          env: { ...process.env, OMNISECRET_LOCAL_PATH: path, OMNISECRET_LOCAL_BUSY_TIMEOUT_MS: "100" },
        }).catch((error: { code?: number; stderr?: string }) => error);
        expect(cli).toMatchObject({ code: 3 });
        expect((cli as { stderr?: string }).stderr).toContain("E_PROVIDER_UNAVAILABLE");
      } finally {
        other.exec("ROLLBACK");
        other.close();
      }
    });

    it("reads a database file that cannot be written, and refuses writes with E_PERMISSION_DENIED", async () => {
      const { path, id } = await closedStoreWithSecret();
      makeReadOnly(path, false);
      const store = await SecretStore.create({ provider: "local", path });
      expect(await store.getSecretValues(id)).toEqual({ kept: "yes" });
      const ids: string[] = [];
      for await (const listed of store.listSecretIds()) ids.push(listed);
      expect(ids).toEqual([id]);
      await expect(store.storeSecretValues(randomUUID(), { a: "b" })).rejects.toMatchObject({
        code: "E_PERMISSION_DENIED",
      });
      await expect(store.updateSecretValues(id, { a: "b" })).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
      await store.close();
    });

    it("says a read-only directory is why the store cannot be opened, with E_PERMISSION_DENIED", async () => {
      const folder = join(directory, randomUUID());
      mkdirSync(folder);
      await closedStoreWithSecret(join(folder, "secrets.db"));
      makeReadOnly(folder, true);
      const error = await SecretStore.create({ provider: "local", path: join(folder, "secrets.db") }).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "E_PERMISSION_DENIED" });
      expect((error as Error).message).toContain("read-only");
    });

    it("reports damaged pages as E_SECRET_INTEGRITY, and never lists fewer ids silently", async () => {
      const path = freshPath();
      const store = await SecretStore.create({ provider: "local", path });
      const ids = Array.from({ length: 200 }, () => randomUUID());
      for (const id of ids) await store.storeSecretValues(id, { padding: "x".repeat(1_000) });
      await store.close();
      // Overwrite two pages in the middle of the file with garbage.
      const size = statSync(path).size;
      const file = openSync(path, "r+");
      writeSync(file, Buffer.alloc(8_192, 0xa5), 0, 8_192, Math.floor(size / 2 / 4_096) * 4_096);
      closeSync(file);
      const damaged = await SecretStore.create({ provider: "local", path });
      const listed: string[] = [];
      const failure = await (async () => {
        for await (const id of damaged.listSecretIds()) listed.push(id);
      })().catch((e: unknown) => e);
      expect(failure).toMatchObject({ code: "E_SECRET_INTEGRITY" });
      expect(listed).toEqual([]);
      // Reads either succeed with the stored values or fail typed; never garbage, never untyped.
      for (const id of ids) {
        const result = await damaged.getSecretValues(id).catch((e: unknown) => e);
        if ((result as { code?: string }).code === undefined) expect(result).toEqual({ padding: "x".repeat(1_000) });
        else expect(["E_SECRET_INTEGRITY", "E_SECRET_NOT_FOUND"]).toContain((result as { code: string }).code);
      }
      await damaged.close();
    });

    it("refuses a database truncated to 0 bytes instead of opening it as an empty store", async () => {
      const { path } = await closedStoreWithSecret();
      truncateSync(path, 0);
      for (const extra of [`${path}-wal`, `${path}-shm`]) rmSync(extra, { force: true });
      const error = await SecretStore.create({ provider: "local", path }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "E_SECRET_INTEGRITY" });
      expect((error as Error).message).toContain("truncated or replaced");
      // Nothing was recorded in the emptied file: the same refusal on the next open.
      await expect(SecretStore.create({ provider: "local", path })).rejects.toMatchObject({
        code: "E_SECRET_INTEGRITY",
      });
    });
  });

  it("stays consistent with several processes writing at once", { timeout: 60_000 }, async () => {
    const path = freshPath();
    const contested = randomUUID();
    const writers = 4;
    const perWriter = 25;
    // A new database: the writers also race to create its key file and key check.
    const script = `
      import { SecretStore } from "./dist/src/index.js";
      const [path, contested, writer, count] = process.argv.slice(1);
      const store = await SecretStore.create({ provider: "local", path });
      let won = false;
      try { await store.storeSecretValues(contested, { writer }); won = true; } catch (e) { if (e.code !== "E_SECRET_EXISTS") throw e; }
      for (let i = 0; i < Number(count); i++) {
        const id = crypto.randomUUID();
        await store.storeSecretValues(id, { writer, i: String(i) });
        await store.updateSecretValues(id, { writer, i: String(i), updated: "yes" });
      }
      await store.close();
      console.log(JSON.stringify({ won }));
    `;
    const results = await Promise.all(
      Array.from({ length: writers }, (_, writer) =>
        run(
          process.execPath,
          ["--input-type=module", "-e", script, path, contested, String(writer), String(perWriter)],
          {
            cwd: root,
          },
        ),
      ),
    );
    const wins = results.filter((result) => (JSON.parse(result.stdout) as { won: boolean }).won);
    expect(wins).toHaveLength(1);

    const store = await SecretStore.create({ provider: "local", path });
    const ids: string[] = [];
    for await (const id of store.listSecretIds()) ids.push(id);
    expect(ids).toHaveLength(writers * perWriter + 1);
    for (const id of ids.filter((candidate) => candidate !== contested)) {
      expect(await store.getSecretValues(id)).toMatchObject({ updated: "yes" });
    }
    await store.close();
  });

  describe("a store that does not exist yet", () => {
    /** The CLI in a fresh process with only a fresh home: the default store path, nothing configured. */
    async function cliInFreshHome(home: string, args: string[]) {
      const env = { PATH: process.env.PATH, HOME: home, XDG_DATA_HOME: join(home, "data") };
      return run(process.execPath, ["dist/src/cli/main.js", ...args], { cwd: root, env }).catch(
        (error: { code?: number; stdout: string; stderr: string }) => error,
      );
    }

    it("answers get and list from the CLI without creating a database, key file or directory", async () => {
      const home = join(directory, randomUUID());
      mkdirSync(home);
      const listed = await cliInFreshHome(home, ["list"]);
      expect(listed).toMatchObject({ stdout: "", stderr: "" });
      expect((listed as { code?: number }).code ?? 0).toBe(0);
      const got = await cliInFreshHome(home, ["get", randomUUID()]);
      expect(got).toMatchObject({ code: 1, stdout: "" });
      expect((got as { stderr: string }).stderr).toContain("E_SECRET_NOT_FOUND");
      expect(existsSync(join(home, "data"))).toBe(false);

      // The first write creates it, and says nothing on stderr either (no ExperimentalWarning).
      const id = randomUUID();
      const stored = await cliInFreshHome(home, ["store", id, "a=b"]);
      expect(stored).toMatchObject({ stderr: "" });
      expect(existsSync(join(home, "data", "omnisecret", "secrets.db"))).toBe(true);
      expect(existsSync(join(home, "data", "omnisecret", "secrets.db.key"))).toBe(true);
      expect(await cliInFreshHome(home, ["list"])).toMatchObject({ stdout: `${id}\n`, stderr: "" });
    });

    it("creates nothing for get, list, update or delete through the API; the first store creates it", async () => {
      const path = join(directory, randomUUID(), "nested", "secrets.db");
      const store = await SecretStore.create({ provider: "local", path });
      const id = randomUUID();
      await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      await expect(store.updateSecretValues(id, { a: "b" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      const ids: string[] = [];
      for await (const listed of store.listSecretIds()) ids.push(listed);
      expect(ids).toEqual([]);
      expect(existsSync(join(path, "..", ".."))).toBe(false);

      await store.storeSecretValues(id, { a: "b" });
      expect(statSync(`${path}.key`).mode & 0o777).toBe(0o600);
      expect(await store.getSecretValues(id)).toEqual({ a: "b" });
      await store.close();
    });

    it("sees a database another process created after this store was opened", async () => {
      const path = freshPath();
      const reader = await SecretStore.create({ provider: "local", path });
      const { id } = await closedStoreWithSecret(path);
      expect(await reader.getSecretValues(id)).toEqual({ kept: "yes" });
      await reader.close();
    });
  });

  describe("SQLite drivers", () => {
    it("uses node:sqlite where Node has it (22.13+, 24) and better-sqlite3 on Node 20", () => {
      const major = Number(process.versions.node.split(".")[0]);
      expect(sqliteDriverName).toBe(major >= 22 ? "node:sqlite" : "better-sqlite3");
    });

    it("reads SQLite's result code from either driver's errors", () => {
      // better-sqlite3 names the code; node:sqlite gives ERR_SQLITE_ERROR and the extended code's number.
      expect(sqliteErrorCode({ code: "SQLITE_BUSY" })).toBe("SQLITE_BUSY");
      expect(sqliteErrorCode({ code: "ERR_SQLITE_ERROR", errcode: 5, errstr: "database is locked" })).toBe(
        "SQLITE_BUSY",
      );
      expect(sqliteErrorCode({ code: "ERR_SQLITE_ERROR", errcode: 1555 })).toBe("SQLITE_CONSTRAINT_PRIMARYKEY");
      expect(sqliteErrorCode({ code: "ERR_SQLITE_ERROR", errcode: 8 | (5 << 8) })).toBe("SQLITE_READONLY");
      expect(sqliteErrorCode({ code: "ERR_SQLITE_ERROR", errcode: 11 | (1 << 8) })).toBe("SQLITE_CORRUPT");
      expect(sqliteErrorCode({ code: "EACCES" })).toBe("EACCES");
      expect(sqliteErrorCode(new Error("plain"))).toBe("");
    });

    it("maps a duplicate id from this driver to E_SECRET_EXISTS", async () => {
      const { path, id } = await closedStoreWithSecret();
      const store = await SecretStore.create({ provider: "local", path });
      await expect(store.storeSecretValues(id, { a: "b" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
      await store.close();
    });

    it("shares one database file with the other driver, in both directions", { timeout: 120_000 }, async () => {
      // The other driver runs in a Node from the npm registry (the `node` package, cached by
      // npm): Node 22 has node:sqlite; Node 20 has none and uses better-sqlite3, whose addon in
      // node_modules is built for Node 20.
      const otherNode = sqliteDriverName === "node:sqlite" ? "node@20" : "node@22";
      const { path, id } = await closedStoreWithSecret();
      const second = randomUUID();
      const script = `
          import { SecretStore } from "./dist/src/index.js";
          import { sqliteDriverName } from "./dist/adapters/local/index.js";
          const [path, id, second] = process.argv.slice(1);
          const store = await SecretStore.create({ provider: "local", path });
          const read = await store.getSecretValues(id);
          await store.updateSecretValues(id, { ...read, rewritten: sqliteDriverName });
          await store.storeSecretValues(second, { writer: sqliteDriverName });
          await store.close();
          console.log(JSON.stringify({ driver: sqliteDriverName, read }));
        `;
      const child = await run(
        "npx",
        ["--prefer-offline", "-y", otherNode, "--input-type=module", "-e", script, path, id, second],
        { cwd: root, env: { ...process.env, npm_config_update_notifier: "false" } },
      );
      const reported = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "") as { driver: string; read: unknown };
      expect(reported.driver).not.toBe(sqliteDriverName);
      expect(reported.read).toEqual({ kept: "yes" });
      expect(child.stderr).not.toContain("ExperimentalWarning");

      const store = await SecretStore.create({ provider: "local", path });
      expect(await store.getSecretValues(id)).toEqual({ kept: "yes", rewritten: reported.driver });
      expect(await store.getSecretValues(second)).toEqual({ writer: reported.driver });
      const ids: string[] = [];
      for await (const listed of store.listSecretIds()) ids.push(listed);
      expect(ids.sort()).toEqual([id, second].sort());
      await store.close();
    });
  });
});
