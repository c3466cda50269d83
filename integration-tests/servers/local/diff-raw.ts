/**
 * The raw side of bench/diff.ts for the local store: every secret of a prefix with better-sqlite3
 * and node:crypto, in one SELECT (the fewest statements: the whole table in one scan), decrypted
 * as the adapter encrypts (AES-256-GCM bound to prefix and id).
 */
import { createDecipheriv } from "node:crypto";
import Database from "better-sqlite3";

export async function readAllLocal(
  config: Record<string, unknown>,
  prefix: string,
): Promise<Map<string, Record<string, string>>> {
  const key = Buffer.from(config.key as string, "base64");
  const db = new Database(config.path as string, { readonly: true, timeout: 5_000 });
  try {
    const rows = db
      .prepare<[string], { id: string; nonce: Buffer; ciphertext: Buffer; auth_tag: Buffer }>(
        "SELECT id, nonce, ciphertext, auth_tag FROM omnisecret_secrets WHERE prefix = ?",
      )
      .all(prefix);
    const result = new Map<string, Record<string, string>>();
    for (const row of rows) {
      const decipher = createDecipheriv("aes-256-gcm", key, row.nonce);
      decipher.setAAD(Buffer.from(`${prefix}\u0000${row.id}`, "utf8"));
      decipher.setAuthTag(row.auth_tag);
      result.set(
        row.id,
        JSON.parse(Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString("utf8")),
      );
    }
    return result;
  } finally {
    db.close();
  }
}
