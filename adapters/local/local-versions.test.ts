/**
 * Issue 23 on the local store: versions kept in the database (`keepVersions`), their tokens, the
 * migration of a schema-1 database in place, and the integrity of each kept version.
 */
import { execFile, execFileSync } from "node:child_process";
import { createCipheriv, randomBytes, randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as v from "valibot";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SecretsAdapter } from "../../src/contract.js";
import { storeValues as store, updateValues as update } from "../../test-support/adapter-calls.js";
import { LocalAdapter } from "./index.js";
import { localOptionsSchema } from "./options.js";
import { loadSqliteDriver, type SqliteDatabase } from "./sqlite.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const directory = mkdtempSync(join(tmpdir(), "omnisecret-local-versions-"));
const freshPath = () => join(directory, `${randomUUID()}.db`);
/** The driver the adapter uses in this process: the same object, so wrapping its `open` counts the adapter's statements. */
const driver = await loadSqliteDriver();

const opened: LocalAdapter[] = [];
const undoReadOnly: (() => void)[] = [];
afterEach(() => {
  for (const adapter of opened.splice(0)) adapter.close();
  for (const undo of undoReadOnly.splice(0).reverse()) undo();
});

/** Makes a file read-only for this process (as root, as in CI, with the immutable flag), undone after the test. */
function makeReadOnly(path: string): void {
  if (process.getuid?.() === 0) {
    execFileSync("chattr", ["+i", path]);
    undoReadOnly.push(() => execFileSync("chattr", ["-i", path]));
  } else {
    chmodSync(path, 0o444);
    undoReadOnly.push(() => chmodSync(path, 0o644));
  }
}

function localAdapter(options: Record<string, unknown>, prefix = "omnisecret"): LocalAdapter {
  const adapter = new LocalAdapter(v.parse(localOptionsSchema, { provider: "local", ...options }), { prefix });
  opened.push(adapter);
  return adapter;
}

const get = (adapter: SecretsAdapter, id: string, version?: string) => adapter.getSecretValues(id, { version });

function withDatabase<T>(path: string, work: (db: SqliteDatabase) => T): T {
  const db = driver.open(path);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

/** Counts the SQL statements run (run, get, all) by adapters whose database opens during `work`. */
async function statementsOf(work: () => Promise<void>, before: () => LocalAdapter): Promise<number> {
  const original = driver.open;
  let count = 0;
  (driver as { open: typeof driver.open }).open = (path) => {
    const db = original(path);
    const prepare = db.prepare.bind(db);
    return {
      ...db,
      exec: db.exec.bind(db),
      close: db.close.bind(db),
      get isOpen() {
        return db.isOpen;
      },
      prepare: <Row>(sql: string) => {
        const statement = prepare<Row>(sql);
        const counted =
          <Args extends unknown[], Result>(method: (...args: Args) => Result) =>
          (...args: Args): Result => {
            count++;
            return method(...args);
          };
        return {
          run: counted(statement.run.bind(statement)),
          get: counted(statement.get.bind(statement)),
          all: counted(statement.all.bind(statement)),
        };
      },
    };
  };
  try {
    before();
  } finally {
    (driver as { open: typeof driver.open }).open = original;
  }
  count = 0;
  await work();
  return count;
}

describe("local store versions", () => {
  it("keeps 2 versions: latest C, previous B, A gone; a rollback makes B latest and C previous", async () => {
    const adapter = localAdapter({ path: freshPath(), keepVersions: 2 });
    const id = randomUUID();
    await store(adapter, id, { v: "A" });
    const [a] = await adapter.listSecretVersions(id, {});
    expect(a).toMatchObject({ current: true, readable: true });
    await update(adapter, id, { v: "B" });
    await update(adapter, id, { v: "C" });

    const latest = await get(adapter, id);
    expect(latest.values).toEqual({ v: "C" });
    expect((await get(adapter, id, "latest")).values).toEqual({ v: "C" });
    const previous = await get(adapter, id, "previous");
    expect(previous.values).toEqual({ v: "B" });
    const error = await get(adapter, id, a?.token).catch((caught: Error) => caught);
    expect(error).toMatchObject({ code: "E_SECRET_NOT_FOUND", secretId: id });
    expect((error as Error).message).toContain("no longer kept");

    const versions = await adapter.listSecretVersions(id, {});
    expect(versions.map((version) => [version.token, version.current, version.readable])).toEqual([
      [expect.stringMatching(/\.3$/), true, true],
      [previous.version, false, true],
    ]);
    expect(versions.map((version) => version.token)).not.toContain(a?.token);
    for (const version of versions) expect(adapter.isVersionToken(version.token)).toBe(true);
    expect(versions[0]?.createdAt.getTime()).toBeGreaterThanOrEqual(versions[1]?.createdAt.getTime() ?? Infinity);
    expect((await get(adapter, id, versions[1]?.token)).values).toEqual({ v: "B" });

    // Rollback, as the facade does it: read the previous version, write it as a new one.
    await update(adapter, id, (await get(adapter, id, "previous")).values);
    expect((await get(adapter, id)).values).toEqual({ v: "B" });
    expect((await get(adapter, id, "previous")).values).toEqual({ v: "C" });
    // Pruned versions are deleted from the file, not only hidden.
    const kept = withDatabase(
      adapter.path,
      (db) => db.prepare<{ n: number }>("SELECT count(*) AS n FROM omnisecret_versions WHERE id = ?").get(id)?.n,
    );
    expect(kept).toBe(1);
  });

  it("keeps nothing with keepVersions 1, and sends the same single statement per operation as before", async () => {
    const path = freshPath();
    let adapter!: LocalAdapter;
    const id = randomUUID();
    const counts: Record<string, number> = {};
    const counted = async (name: string, work: () => Promise<unknown>) => {
      counts[name] = await statementsOf(
        async () => {
          await work();
        },
        () => {
          adapter = localAdapter({ path });
          return adapter;
        },
      );
      adapter.close();
    };
    // The database exists first, and a fresh adapter opens it before each operation: opening
    // (schema, key check) is not the operation.
    await store(localAdapter({ path }), randomUUID(), { warm: "up" });
    await counted("store", () => store(adapter, id, { v: "A" }));
    await counted("get", () => get(adapter, id));
    await counted("update", () => update(adapter, id, { v: "B" }));
    await counted("delete", () => adapter.deleteSecretValues(id, {}));
    expect(counts).toEqual({ store: 1, get: 1, update: 1, delete: 1 });

    const single = localAdapter({ path });
    await store(single, id, { v: "A" });
    await update(single, id, { v: "B" });
    expect((await get(single, id)).values).toEqual({ v: "B" });
    await expect(get(single, id, "previous")).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(await single.listSecretVersions(id, {})).toHaveLength(1);
    const kept = withDatabase(
      path,
      (db) => db.prepare<{ n: number }>("SELECT count(*) AS n FROM omnisecret_versions").get()?.n,
    );
    expect(kept).toBe(0);
  });

  it("removes from the file, at the next update, the versions a lowered keepVersions no longer keeps", async () => {
    const path = freshPath();
    const id = randomUUID();
    const rowsOf = () =>
      withDatabase(path, (db) =>
        ["omnisecret_secrets", "omnisecret_versions"].map(
          (table) => db.prepare<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE id = ?`).get(id)?.n,
        ),
      );
    const three = localAdapter({ path, keepVersions: 3 });
    await store(three, id, { v: "A" });
    for (const v of ["B", "C", "D"]) await update(three, id, { v });
    three.close();
    expect(rowsOf()).toEqual([1, 2]);

    const one = localAdapter({ path, keepVersions: 1 });
    await expect(get(one, id, "previous")).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(rowsOf()).toEqual([1, 2]); // hidden, not yet removed: reads change nothing
    await update(one, id, { v: "E" });
    expect(rowsOf()).toEqual([1, 0]);
    one.close();
    expect((await get(localAdapter({ path, keepVersions: 3 }), id)).values).toEqual({ v: "E" });
  });

  it("sends three statements for an update that keeps versions, one for a versioned get or list", async () => {
    const path = freshPath();
    const id = randomUUID();
    let adapter!: LocalAdapter;
    const open = () => {
      adapter = localAdapter({ path, keepVersions: 3 });
      return adapter;
    };
    await store(localAdapter({ path }), id, { v: "A" });
    // SELECT, INSERT and UPDATE: the UPDATE's trigger deletes the versions beyond keepVersions.
    expect(await statementsOf(() => update(adapter, id, { v: "B" }), open)).toBe(3);
    expect(await statementsOf(async () => void (await get(adapter, id, "previous")), open)).toBe(1);
    expect(await statementsOf(async () => void (await adapter.listSecretVersions(id, {})), open)).toBe(1);
    expect(await statementsOf(() => adapter.deleteSecretValues(id, {}), open)).toBe(1);
    const left = withDatabase(
      path,
      (db) => db.prepare<{ n: number }>("SELECT count(*) AS n FROM omnisecret_versions").get()?.n,
    );
    expect(left).toBe(0);
  });

  it("gives a deleted and stored-again id a new history: the old tokens are not found", async () => {
    const adapter = localAdapter({ path: freshPath(), keepVersions: 3 });
    const id = randomUUID();
    await store(adapter, id, { v: "old 1" });
    await update(adapter, id, { v: "old 2" });
    const oldTokens = (await adapter.listSecretVersions(id, {})).map((version) => version.token);
    expect(oldTokens).toHaveLength(2);
    await adapter.deleteSecretValues(id, {});
    await expect(adapter.listSecretVersions(id, {})).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    // At once, so possibly in the same millisecond as the first store and the delete.
    await store(adapter, id, { v: "new 1" });
    await update(adapter, id, { v: "new 2" });
    const newTokens = (await adapter.listSecretVersions(id, {})).map((version) => version.token);
    expect(newTokens).toHaveLength(2);
    for (const token of oldTokens) {
      expect(newTokens).not.toContain(token);
      const error = await get(adapter, id, token).catch((caught: Error) => caught);
      expect(error).toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      expect((error as Error).message).toContain("was deleted");
    }
    expect((await get(adapter, id, newTokens[1])).values).toEqual({ v: "new 1" });
  });

  it("gives a new incarnation even when the store, delete and new store fall in one millisecond", async () => {
    const adapter = localAdapter({ path: freshPath(), keepVersions: 2 });
    const id = randomUUID();
    const now = vi.spyOn(Date, "now").mockReturnValue(1_800_000_000_000);
    try {
      await store(adapter, id, { v: "old" });
      const [old] = await adapter.listSecretVersions(id, {});
      await adapter.deleteSecretValues(id, {});
      await store(adapter, id, { v: "new" });
      const [fresh] = await adapter.listSecretVersions(id, {});
      expect(fresh?.token).not.toBe(old?.token);
      await expect(get(adapter, id, old?.token)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      expect((await get(adapter, id, fresh?.token)).values).toEqual({ v: "new" });
    } finally {
      now.mockRestore();
    }
  });

  it("takes keepVersions from 1 to 100, and 1 when unset", () => {
    const parse = (keepVersions?: unknown) =>
      v.safeParse(localOptionsSchema, { provider: "local", ...(keepVersions === undefined ? {} : { keepVersions }) });
    expect(parse().output).toMatchObject({ keepVersions: 1 });
    expect(parse(100).success).toBe(true);
    for (const bad of [0, 101, 1.5, "2"]) expect(parse(bad).success, String(bad)).toBe(false);
  });

  it("refuses a token of another shape, and says what is missing of an existing secret", async () => {
    const adapter = localAdapter({ path: freshPath(), keepVersions: 2 });
    for (const token of ["", "1", "abc.", ".1", "abc.0", "abc.x", "a b.1", `abc.${"9".repeat(20)}`]) {
      expect(adapter.isVersionToken(token), token).toBe(false);
    }
    const id = randomUUID();
    await store(adapter, id, { v: "A" });
    const error = await get(adapter, id, "previous").catch((caught: Error) => caught);
    expect(error).toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect((error as Error).message).toContain("never updated");
    const [current] = await adapter.listSecretVersions(id, {});
    const later = `${current?.token.split(".")[0]}.5`;
    await expect(get(adapter, id, later)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(get(adapter, randomUUID(), "previous")).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(adapter.listSecretVersions(randomUUID(), {})).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
  });

  it("detects kept versions swapped between numbers, moved to another id or made current", async () => {
    const adapter = localAdapter({ path: freshPath(), keepVersions: 3 });
    const [id, other] = [randomUUID(), randomUUID()];
    await store(adapter, id, { v: "1" });
    await update(adapter, id, { v: "2" });
    await update(adapter, id, { v: "3" });
    await store(adapter, other, { v: "other 1" });
    await update(adapter, other, { v: "other 2" });
    const [, two, one] = await adapter.listSecretVersions(id, {});
    expect((await get(adapter, id, one?.token)).values).toEqual({ v: "1" });

    const swap = `UPDATE omnisecret_versions SET (nonce, ciphertext, auth_tag) =
      (SELECT nonce, ciphertext, auth_tag FROM omnisecret_versions WHERE id = ? AND version = ?)
      WHERE id = ? AND version = ?`;
    // Version 2's row into version 1's place: same id and incarnation, another number.
    withDatabase(adapter.path, (db) => db.prepare(swap).run(id, 2, id, 1));
    await expect(get(adapter, id, one?.token)).rejects.toMatchObject({ code: "E_SECRET_INTEGRITY", secretId: id });
    expect((await get(adapter, id, two?.token)).values).toEqual({ v: "2" });
    // The other secret's version 1 into this one's version 2.
    withDatabase(adapter.path, (db) => db.prepare(swap).run(other, 1, id, 2));
    await expect(get(adapter, id, "previous")).rejects.toMatchObject({ code: "E_SECRET_INTEGRITY" });
    // A kept version made current (its number advanced, as a writer must).
    withDatabase(adapter.path, (db) =>
      db
        .prepare(`UPDATE omnisecret_secrets SET (nonce, ciphertext, auth_tag, version) =
          (SELECT nonce, ciphertext, auth_tag, 3 FROM omnisecret_versions WHERE id = ? AND version = 1) WHERE id = ?`)
        .run(other, other),
    );
    await expect(get(adapter, other)).rejects.toMatchObject({ code: "E_SECRET_INTEGRITY", secretId: other });
  });
});

describe("a database of schema 1 (before versions)", () => {
  const key = randomBytes(32);
  const seal = (plaintext: string, aad: string) => {
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, nonce);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return { nonce, ciphertext, authTag: cipher.getAuthTag() };
  };

  /** A database as omnisecret wrote it before versions: its schema, key check and rows, by its own SQL. */
  function schemaOneDatabase(secrets: Record<string, Record<string, string>>): string {
    const path = freshPath();
    withDatabase(path, (db) => {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`
        CREATE TABLE IF NOT EXISTS omnisecret_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS omnisecret_secrets (
          prefix TEXT NOT NULL,
          id TEXT NOT NULL,
          nonce BLOB NOT NULL,
          ciphertext BLOB NOT NULL,
          auth_tag BLOB NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          PRIMARY KEY (prefix, id)
        ) WITHOUT ROWID;
      `);
      db.prepare("INSERT OR IGNORE INTO omnisecret_meta (name, value) VALUES ('schema_version', ?)").run("1");
      const check = seal("omnisecret local store key check", "omnisecret:key-check");
      db.prepare("INSERT INTO omnisecret_meta (name, value) VALUES ('key_check', ?)").run(
        Buffer.concat([check.nonce, check.authTag, check.ciphertext]),
      );
      const insert = db.prepare(
        "INSERT INTO omnisecret_secrets (prefix, id, nonce, ciphertext, auth_tag, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      );
      for (const [id, values] of Object.entries(secrets)) {
        const { nonce, ciphertext, authTag } = seal(JSON.stringify(values), `omnisecret\u0000${id}`);
        insert.run("omnisecret", id, nonce, ciphertext, authTag, 1_700_000_000_000, 1_700_000_000_000);
      }
    });
    return path;
  }

  const schemaVersion = (path: string) =>
    withDatabase(path, (db) =>
      String(
        db.prepare<{ value: unknown }>("SELECT value FROM omnisecret_meta WHERE name = 'schema_version'").get()?.value,
      ),
    );

  it("is migrated in place on open: its secrets read as version 1 and keep their history from then on", async () => {
    const id = randomUUID();
    const path = schemaOneDatabase({ [id]: { v: "A" } });
    const adapter = localAdapter({ path, key: key.toString("base64"), keepVersions: 2 });
    expect(schemaVersion(path)).toBe("2");
    expect((await get(adapter, id)).values).toEqual({ v: "A" });
    const [first] = await adapter.listSecretVersions(id, {});
    expect(first?.token.endsWith(".1")).toBe(true);
    await update(adapter, id, { v: "B" });
    expect((await get(adapter, id, "previous")).values).toEqual({ v: "A" });
    expect((await get(adapter, id, first?.token)).values).toEqual({ v: "A" });
    expect(await adapter.listSecretVersions(id, {})).toMatchObject([
      { current: true, createdAt: expect.any(Date) },
      { current: false, createdAt: new Date(1_700_000_000_000) },
    ]);
  });

  it("is migrated once by several processes opening it at the same moment", { timeout: 60_000 }, async () => {
    const ids = Array.from({ length: 4 }, () => randomUUID());
    const path = schemaOneDatabase(Object.fromEntries(ids.map((id) => [id, { v: "A" }])));
    // Each process updates its own secret, keeping the replaced version.
    const script = `
      import { SecretStore } from "./dist/src/index.js";
      const [path, key, id] = process.argv.slice(1);
      const store = await SecretStore.create({ provider: "local", path, key, keepVersions: 2 });
      await store.updateSecretValues(id, { v: "B" });
      console.log(JSON.stringify(await store.getSecretValues(id)));
      await store.close();
    `;
    const results = await Promise.all(
      ids.map((id) =>
        run(process.execPath, ["--input-type=module", "-e", script, path, key.toString("base64"), id], { cwd: root }),
      ),
    );
    for (const result of results) expect(JSON.parse(result.stdout)).toEqual({ v: "B" });
    expect(schemaVersion(path)).toBe("2");
    const adapter = localAdapter({ path, key: key.toString("base64"), keepVersions: 2 });
    for (const id of ids) {
      expect((await get(adapter, id)).values).toEqual({ v: "B" });
      expect((await get(adapter, id, "previous")).values).toEqual({ v: "A" });
    }
  });

  it("is read as it is when the file cannot be written, and refuses writes with E_PERMISSION_DENIED", async () => {
    const id = randomUUID();
    const path = schemaOneDatabase({ [id]: { v: "A" } });
    makeReadOnly(path);
    const adapter = localAdapter({ path, key: key.toString("base64"), keepVersions: 2 });
    expect((await get(adapter, id)).values).toEqual({ v: "A" });
    const [only] = await adapter.listSecretVersions(id, {});
    expect((await get(adapter, id, only?.token)).values).toEqual({ v: "A" });
    expect(await adapter.listSecretVersions(id, {})).toHaveLength(1);
    await expect(get(adapter, id, "previous")).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(update(adapter, id, { v: "B" })).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
    await expect(store(adapter, randomUUID(), { v: "B" })).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
    await expect(adapter.deleteSecretValues(id, {})).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
    expect(schemaVersion(path)).toBe("1");
  });

  it("refuses a database of a schema it does not know (made by a newer omnisecret)", async () => {
    const path = schemaOneDatabase({});
    withDatabase(path, (db) => db.exec("UPDATE omnisecret_meta SET value = '3' WHERE name = 'schema_version'"));
    expect(() => localAdapter({ path, key: key.toString("base64") })).toThrow(
      expect.objectContaining({ code: "E_CONFIG", field: "path" }),
    );
    expect(schemaVersion(path)).toBe("3");
  });

  it("stays usable by an omnisecret from before versions, which cannot replace a version unseen", async () => {
    const [id, added] = [randomUUID(), randomUUID()];
    const path = schemaOneDatabase({ [id]: { v: "A" } });
    const adapter = localAdapter({ path, key: key.toString("base64"), keepVersions: 2 });
    await update(adapter, id, { v: "B" });
    adapter.close();
    // The old code's statements, as it prepared them.
    withDatabase(path, (db) => {
      const old = seal(JSON.stringify({ v: "by old" }), `omnisecret\u0000${id}`);
      expect(() =>
        db
          .prepare(
            "UPDATE omnisecret_secrets SET nonce = ?, ciphertext = ?, auth_tag = ?, updated_at = ? WHERE prefix = ? AND id = ?",
          )
          .run(old.nonce, old.ciphertext, old.authTag, Date.now(), "omnisecret", id),
      ).toThrow(/keeps secret versions/);
      const fresh = seal(JSON.stringify({ v: "stored by old" }), `omnisecret\u0000${added}`);
      db.prepare(
        "INSERT INTO omnisecret_secrets (prefix, id, nonce, ciphertext, auth_tag, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ).run("omnisecret", added, fresh.nonce, fresh.ciphertext, fresh.authTag, Date.now(), Date.now());
    });
    const reopened = localAdapter({ path, key: key.toString("base64"), keepVersions: 2 });
    expect((await get(reopened, id)).values).toEqual({ v: "B" });
    expect((await get(reopened, id, "previous")).values).toEqual({ v: "A" });
    expect((await get(reopened, added)).values).toEqual({ v: "stored by old" });
    reopened.close();
    // The old code's delete takes the kept versions with the secret.
    withDatabase(path, (db) => {
      db.prepare("DELETE FROM omnisecret_secrets WHERE prefix = ? AND id = ?").run("omnisecret", id);
      expect(db.prepare<{ n: number }>("SELECT count(*) AS n FROM omnisecret_versions").get()?.n).toBe(0);
    });
  });
});
