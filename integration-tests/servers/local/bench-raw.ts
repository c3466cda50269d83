/**
 * The local store by hand: better-sqlite3 and node:crypto, with the adapter's SQL, the same
 * AES-256-GCM encryption bound to prefix and id, and the same database setup.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { type BenchSide, NotFound, type RawFactory, type SecretValues } from "../../../bench/lib/side.js";

export const createRawLocal: RawFactory = async (config, prefix) => {
  const key = Buffer.from(config.key as string, "base64");
  const db = new Database(config.path as string, { timeout: 5_000 });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  // The adapter's schema 2 with keepVersions 1: the version number, the table of kept versions
  // (empty) and the trigger that empties it with a delete.
  db.exec(`CREATE TABLE IF NOT EXISTS omnisecret_secrets (
    prefix TEXT NOT NULL, id TEXT NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, auth_tag BLOB NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (prefix, id)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS omnisecret_versions (
    prefix TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL,
    auth_tag BLOB NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (prefix, id, version)) WITHOUT ROWID;
  CREATE TRIGGER IF NOT EXISTS omnisecret_versions_go_with_secret AFTER DELETE ON omnisecret_secrets
  BEGIN DELETE FROM omnisecret_versions WHERE prefix = old.prefix AND id = old.id; END`);
  const insert = db.prepare(
    "INSERT INTO omnisecret_secrets (prefix, id, nonce, ciphertext, auth_tag, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
  );
  const select = db.prepare<[string, string], { nonce: Buffer; ciphertext: Buffer; auth_tag: Buffer }>(
    "SELECT nonce, ciphertext, auth_tag, created_at, updated_at, version FROM omnisecret_secrets WHERE prefix = ? AND id = ?",
  );
  const update = db.prepare(
    "UPDATE omnisecret_secrets SET nonce = ?, ciphertext = ?, auth_tag = ?, updated_at = ?, version = version + 1 WHERE prefix = ? AND id = ?",
  );
  const remove = db.prepare("DELETE FROM omnisecret_secrets WHERE prefix = ? AND id = ? RETURNING created_at");
  const aad = (id: string) => Buffer.from(`${prefix}\u0000${id}`, "utf8");

  const encrypt = (id: string, values: SecretValues) => {
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, nonce);
    cipher.setAAD(aad(id));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(values), "utf8"), cipher.final()]);
    return { nonce, ciphertext, authTag: cipher.getAuthTag() };
  };

  const side: BenchSide = {
    async storeSecretValues(id, values) {
      const { nonce, ciphertext, authTag } = encrypt(id, values);
      const now = Date.now();
      insert.run(prefix, id, nonce, ciphertext, authTag, now, now);
    },
    async getSecretValues(id) {
      const row = select.get(prefix, id);
      if (!row) throw new NotFound(id);
      const decipher = createDecipheriv("aes-256-gcm", key, row.nonce);
      decipher.setAAD(aad(id));
      decipher.setAuthTag(row.auth_tag);
      return JSON.parse(Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString("utf8"));
    },
    async updateSecretValues(id, values) {
      const { nonce, ciphertext, authTag } = encrypt(id, values);
      if (update.run(nonce, ciphertext, authTag, Date.now(), prefix, id).changes === 0) throw new NotFound(id);
    },
    async deleteSecretValues(id) {
      if (remove.get(prefix, id) === undefined) throw new NotFound(id);
    },
    async close() {
      db.close();
    },
  };
  return side;
};
