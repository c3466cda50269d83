// The raw side of the bench's cold start on the local store: better-sqlite3 and node:crypto, the
// adapter's setup (pragmas, schema, key check); run by bench/cold-start/raw.mjs in a fresh process,
// so it imports nothing but what that read needs.
export async function readSecret({ config, prefix, id }) {
  const { createDecipheriv } = await import("node:crypto");
  const { default: Database } = await import("better-sqlite3");
  const key = Buffer.from(config.key, "base64");
  const db = new Database(config.path, { timeout: 5_000 });
  // The adapter's setup: the same pragmas and schema, and the same check of the key.
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS omnisecret_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS omnisecret_secrets (
      prefix TEXT NOT NULL, id TEXT NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, auth_tag BLOB NOT NULL,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (prefix, id)) WITHOUT ROWID;
  `);
  db.prepare("INSERT OR IGNORE INTO omnisecret_meta (name, value) VALUES ('schema_version', ?)").run("1");
  const decrypt = (nonce, ciphertext, tag, aad) => {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8");
  };
  db.transaction(() => {
    const check = db.prepare("SELECT value FROM omnisecret_meta WHERE name = 'key_check'").pluck().get();
    decrypt(check.subarray(0, 12), check.subarray(28), check.subarray(12, 28), Buffer.from("omnisecret:key-check"));
  }).immediate();
  const row = db
    .prepare("SELECT nonce, ciphertext, auth_tag FROM omnisecret_secrets WHERE prefix = ? AND id = ?")
    .get(prefix, id);
  const values = JSON.parse(decrypt(row.nonce, row.ciphertext, row.auth_tag, Buffer.from(`${prefix}\u0000${id}`)));
  db.close();
  return values;
}
