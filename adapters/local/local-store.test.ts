import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { SecretStore } from "../../src/secret-store.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const directory = mkdtempSync(join(tmpdir(), "omnisecret-local-"));
const freshPath = () => join(directory, `${randomUUID()}.db`);

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
    const db = new Database(path);
    db.prepare(
      "UPDATE omnisecret_secrets SET (nonce, ciphertext, auth_tag) = (SELECT nonce, ciphertext, auth_tag FROM omnisecret_secrets WHERE id = ?) WHERE id = ?",
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
});
