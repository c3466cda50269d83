/**
 * The embedded store: secrets in a SQLite database on this machine, each value encrypted at
 * rest with AES-256-GCM. It is omnisecret's default provider.
 *
 * Several processes may use one database at once: WAL mode lets readers run beside a writer,
 * the busy timeout makes a writer wait for another's lock instead of failing, and every
 * operation is one statement, so each is atomic (a store is an INSERT that the primary key
 * lets only one process win); a conditional delete is one immediate transaction.
 *
 * SQLite comes from `node:sqlite` where Node has it, else from better-sqlite3 (`./sqlite.ts`);
 * everything below is written once against that interface. A store whose database and key file
 * do not exist yet is created by its first write: reading it (get, list) creates nothing.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { isDeepStrictEqual } from "node:util";
import {
  type AdapterCapabilities,
  type AdapterContext,
  type CallOptions,
  ConfigError,
  errorCodeOf,
  PermissionDeniedError,
  ProviderUnavailableError,
  parseStoredValues,
  SecretAlreadyExistsError,
  SecretChangedError,
  SecretIntegrityError,
  SecretNotFoundError,
  type SecretRead,
  SecretStoreError,
  type SecretsAdapter,
  type SecretValues,
} from "../../src/kit/index.js";
import type { ResolvedLocalOptions } from "./options.js";
import { defaultLocalStorePath } from "./paths.js";
import { loadSqliteDriver, type SqliteDatabase, type SqliteStatement, sqliteErrorCode, transaction } from "./sqlite.js";

export type { LocalOptions } from "./options.js";
export { defaultLocalStorePath } from "./paths.js";

// Loaded with the adapter module, so a missing better-sqlite3 (on a Node without node:sqlite)
// surfaces where the registry turns it into "install better-sqlite3".
const driver = await loadSqliteDriver();

const PROVIDER = "local";
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const SCHEMA_VERSION = "1";
// Encrypted with the key when the database is created, so a wrong key is detected on open
// instead of surfacing later as unreadable secrets.
const KEY_CHECK_PLAINTEXT = "omnisecret local store key check";
const KEY_CHECK_AAD = "omnisecret:key-check";

/** Which SQLite driver this process uses: `node:sqlite` or `better-sqlite3`. */
export const sqliteDriverName: string = driver.name;

interface EncryptedRow {
  nonce: Buffer;
  ciphertext: Buffer;
  auth_tag: Buffer;
}

/** An opened database with its key and statements. */
interface OpenStore {
  readonly db: SqliteDatabase;
  readonly key: Buffer;
  readonly insert: SqliteStatement<never>;
  readonly select: SqliteStatement<EncryptedRow>;
  readonly update: SqliteStatement<never>;
  readonly delete: SqliteStatement<never>;
  readonly list: SqliteStatement<{ id: string }>;
  readonly quickCheck: SqliteStatement<{ quick_check: string }>;
}

export class LocalAdapter implements SecretsAdapter {
  readonly provider = PROVIDER;
  readonly capabilities: AdapterCapabilities;
  /** The database file. */
  readonly path: string;
  readonly #prefix: string;
  readonly #options: ResolvedLocalOptions;
  /** Undefined until the database is opened: at once if it exists, else on the first write. */
  #store: OpenStore | undefined;
  #closed = false;

  constructor(options: ResolvedLocalOptions, context: AdapterContext) {
    this.capabilities = { maxValueBytes: options.maxValueBytes, conditionalDelete: true, list: true };
    this.#prefix = context.prefix;
    this.#options = options;
    this.path = options.path ?? defaultLocalStorePath();
    // A malformed key is a config error now, whether or not the database exists yet.
    if (options.key !== undefined) decodeKey(options.key, CONFIGURED_KEY).fill(0);
    this.#open(false);
  }

  // SQLite answers synchronously: every call finishes before it returns, so a caller's signal
  // (checked by the facade first) has nothing left to stop, and the options are not read.
  async storeSecretValues(
    id: string,
    _values: SecretValues,
    serialized: string,
    _options?: CallOptions,
  ): Promise<void> {
    const store = this.#run(id, () => this.#open(true));
    const { nonce, ciphertext, authTag } = encrypt(store.key, serialized, this.#aad(id));
    const now = Date.now();
    try {
      this.#run(id, () => store.insert.run(this.#prefix, id, nonce, ciphertext, authTag, now, now));
    } catch (error) {
      if (sqliteErrorCode(error) === "SQLITE_CONSTRAINT_PRIMARYKEY") throw new SecretAlreadyExistsError(id);
      throw error;
    }
  }

  async getSecretValues(id: string, _options?: CallOptions): Promise<SecretRead> {
    const store = this.#run(id, () => this.#open(false));
    const row = store && this.#run(id, () => store.select.get(this.#prefix, id));
    if (!row) throw new SecretNotFoundError(id);
    return { values: this.#decryptRow(store, row, id) };
  }

  #decryptRow(store: OpenStore, row: EncryptedRow, id: string): SecretValues {
    let serialized: string;
    try {
      serialized = decrypt(store.key, row.nonce, row.ciphertext, row.auth_tag, this.#aad(id));
    } catch {
      throw new SecretIntegrityError(id, "its ciphertext did not authenticate with this store's key", {
        provider: PROVIDER,
      });
    }
    return parseStoredValues(serialized, id, PROVIDER);
  }

  async updateSecretValues(
    id: string,
    _values: SecretValues,
    serialized: string,
    _options?: CallOptions,
  ): Promise<void> {
    // An update never creates, so a store that does not exist yet is not created for it.
    const store = this.#run(id, () => this.#open(false));
    if (!store) throw new SecretNotFoundError(id);
    const { nonce, ciphertext, authTag } = encrypt(store.key, serialized, this.#aad(id));
    const result = this.#run(id, () => store.update.run(nonce, ciphertext, authTag, Date.now(), this.#prefix, id));
    if (result.changes === 0) throw new SecretNotFoundError(id);
  }

  async deleteSecretValues(id: string, _options?: CallOptions): Promise<void> {
    const store = this.#run(id, () => this.#open(false));
    if (!store) throw new SecretNotFoundError(id);
    const result = this.#run(id, () => store.delete.run(this.#prefix, id));
    if (result.changes === 0) throw new SecretNotFoundError(id);
  }

  async deleteSecretValuesIfUnchanged(id: string, expected: SecretValues, _options?: CallOptions): Promise<void> {
    const store = this.#run(id, () => this.#open(false));
    if (!store) throw new SecretNotFoundError(id);
    // One immediate transaction: another process's write waits for it, so what is compared is what is deleted.
    this.#run(id, () =>
      transaction(store.db, "immediate", () => {
        const row = store.select.get(this.#prefix, id);
        if (!row) throw new SecretNotFoundError(id);
        if (!isDeepStrictEqual(this.#decryptRow(store, row, id), expected)) {
          throw new SecretChangedError(id, { provider: PROVIDER });
        }
        store.delete.run(this.#prefix, id);
      }),
    );
  }

  async *listSecretIds(_options?: CallOptions): AsyncIterable<string> {
    const store = this.#run(undefined, () => this.#open(false));
    // No database yet: no secrets, and nothing is created to say so.
    if (!store) return;
    // Read the ids first: iterating a statement holds the connection, and a caller may delete as it goes.
    const rows = this.#run(undefined, () => {
      // A scan over damaged pages can end early without an error, so a short list would look
      // complete; the quick check reads every page first.
      const verdict = store.quickCheck.get()?.quick_check;
      if (verdict !== "ok") {
        throw new SecretStoreError("E_SECRET_INTEGRITY", `the local store at ${this.path} is damaged`, {
          provider: PROVIDER,
        });
      }
      return store.list.all(this.#prefix);
    });
    for (const row of rows) yield row.id;
  }

  close(): void {
    this.#closed = true;
    if (this.#store?.db.isOpen) this.#store.db.close();
    this.#store?.key.fill(0);
  }

  /**
   * The open database; opened here the first time. `create`: a write, which creates the database
   * and key file of a new store. Without it, a store that does not exist yet (neither the
   * database nor its key file) is left uncreated and undefined is returned.
   */
  #open(create: true): OpenStore;
  #open(create: boolean): OpenStore | undefined;
  #open(create: boolean): OpenStore | undefined {
    if (this.#store) return this.#store;
    if (this.#closed)
      throw new SecretStoreError("E_CONFIG", "this local store has been closed", { provider: PROVIDER });
    if (!create && !existsSync(this.path) && !existsSync(keyFilePath(this.path))) return undefined;
    this.#store = openStore(this.path, this.#options);
    return this.#store;
  }

  /** Binds each ciphertext to its row, so a ciphertext copied to another id does not decrypt. */
  #aad(id: string): Buffer {
    return Buffer.from(`${this.#prefix}\u0000${id}`, "utf8");
  }

  #run<T>(id: string | undefined, operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      throw mapSqliteError(error, id, this.path) ?? error;
    }
  }
}

const CONFIGURED_KEY = "config `key` (OMNISECRET_LOCAL_KEY)";

/** Opens the database (creating a new store's), resolves its key and prepares the statements. */
function openStore(path: string, options: ResolvedLocalOptions): OpenStore {
  // Looked at before the database, so that a key file made by a process opening a new store at
  // the same moment is always seen after that process has written the schema (see resolveKey).
  const keyFileExisted = existsSync(keyFilePath(path));
  const opened = openDatabase(path, options.busyTimeoutMs, keyFileExisted && options.key === undefined);
  const { db } = opened;
  try {
    return {
      db,
      key: resolveKey(db, path, options.key, opened.readOnly),
      insert: db.prepare(
        "INSERT INTO omnisecret_secrets (prefix, id, nonce, ciphertext, auth_tag, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      select: db.prepare("SELECT nonce, ciphertext, auth_tag FROM omnisecret_secrets WHERE prefix = ? AND id = ?"),
      update: db.prepare(
        "UPDATE omnisecret_secrets SET nonce = ?, ciphertext = ?, auth_tag = ?, updated_at = ? WHERE prefix = ? AND id = ?",
      ),
      delete: db.prepare("DELETE FROM omnisecret_secrets WHERE prefix = ? AND id = ?"),
      list: db.prepare("SELECT id FROM omnisecret_secrets WHERE prefix = ? ORDER BY id"),
      quickCheck: db.prepare("PRAGMA quick_check"),
    };
  } catch (error) {
    db.close();
    throw mapSqliteError(error, undefined, path) ?? error;
  }
}

function keyFilePath(databasePath: string): string {
  return `${databasePath}.key`;
}

/** SQLite's and the file system's failures as omnisecret errors; undefined for anything else. */
function mapSqliteError(error: unknown, id: string | undefined, path: string): SecretStoreError | undefined {
  const code = sqliteErrorCode(error);
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new ProviderUnavailableError(id, {
      provider: PROVIDER,
      message: `the local store at ${path} stayed locked by another process past the busy timeout`,
      cause: error,
    });
  }
  if (
    code.startsWith("SQLITE_READONLY") ||
    code.startsWith("SQLITE_CANTOPEN") ||
    code === "SQLITE_PERM" ||
    code === "SQLITE_AUTH" ||
    code === "EACCES" ||
    code === "EPERM" ||
    code === "EROFS"
  ) {
    return new PermissionDeniedError(id, {
      provider: PROVIDER,
      message: `the local store at ${path} cannot be written: the file or its directory is read-only (SQLite's WAL mode also creates ${path}-wal and ${path}-shm beside it)`,
      cause: error,
    });
  }
  if (code.startsWith("SQLITE_CORRUPT")) {
    return new SecretStoreError("E_SECRET_INTEGRITY", `the local store at ${path} is damaged (${code})`, {
      provider: PROVIDER,
      secretId: id,
      cause: error,
    });
  }
  if (code.startsWith("SQLITE_IOERR") || code === "SQLITE_FULL" || code === "ENOSPC") {
    return new ProviderUnavailableError(id, {
      provider: PROVIDER,
      message: `the local store at ${path} could not be read or written (${code})`,
      cause: error,
    });
  }
  return undefined;
}

export function createLocalAdapter(options: ResolvedLocalOptions, context: AdapterContext): SecretsAdapter {
  return new LocalAdapter(options, context);
}

interface OpenedDatabase {
  readonly db: SqliteDatabase;
  /** Whether the database already held omnisecret's schema before this open. */
  readonly hadSchema: boolean;
  /** Opened for reading only: the file cannot be written, so every write fails with E_PERMISSION_DENIED. */
  readonly readOnly: boolean;
}

/**
 * Opens (and for a new store, creates) the database. `expectSchema`: a key file exists, so the
 * database must already be a store; an empty one was truncated or replaced, and is refused
 * before anything is written to it.
 */
function openDatabase(path: string, busyTimeoutMs: number, expectSchema: boolean): OpenedDatabase {
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new ConfigError(`the local store path ${path} is a directory, not a database file`, {
      provider: PROVIDER,
      field: "path",
    });
  }
  let db: SqliteDatabase;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    db = driver.open(path);
  } catch (error) {
    if (error instanceof SecretStoreError) throw error;
    throw (
      mapSqliteError(error, undefined, path) ??
      new ConfigError(`the local store database at ${path} could not be opened`, {
        provider: PROVIDER,
        field: "path",
        cause: error,
      })
    );
  }
  let hadSchema = false;
  try {
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    hadSchema = schemaVersion(db) !== undefined;
    restrictToOwner(path);
    db.exec("PRAGMA journal_mode = WAL");
    // NORMAL is durable in WAL mode except for the last commits before a power loss.
    db.exec("PRAGMA synchronous = NORMAL");
    // An existing store is opened without writing, so reads work while another process holds
    // the write lock (WAL lets readers pass a writer) and on a file that cannot be written.
    if (hadSchema) return { db, hadSchema, readOnly: false };
    if (expectSchema) {
      throw new SecretStoreError(
        "E_SECRET_INTEGRITY",
        `the local store at ${path} is empty but its key file exists: the database was truncated or replaced. Restore it from a backup, or remove ${keyFilePath(path)} to start a new store`,
        { provider: PROVIDER },
      );
    }
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
    db.prepare("INSERT OR IGNORE INTO omnisecret_meta (name, value) VALUES ('schema_version', ?)").run(SCHEMA_VERSION);
    return { db, hadSchema, readOnly: false };
  } catch (error) {
    if (error instanceof SecretStoreError) {
      db.close();
      throw error;
    }
    const code = sqliteErrorCode(error);
    // A store that cannot be written (a read-only file) can still be read: reads work, and each
    // write says why it cannot.
    if (hadSchema && code.startsWith("SQLITE_READONLY")) return { db, hadSchema, readOnly: true };
    db.close();
    const mapped = mapSqliteError(error, undefined, path);
    if (mapped) throw mapped;
    throw new ConfigError(`the local store database at ${path} could not be prepared (is it an omnisecret database?)`, {
      provider: PROVIDER,
      field: "path",
      cause: error,
    });
  }
}

/** The schema version recorded in the database, if it has omnisecret's schema at all. */
function schemaVersion(db: SqliteDatabase): unknown {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'omnisecret_meta'").get();
  if (hasMeta === undefined) return undefined;
  return db.prepare<{ value: unknown }>("SELECT value FROM omnisecret_meta WHERE name = 'schema_version'").get()?.value;
}

function restrictToOwner(path: string): void {
  try {
    chmodSync(path, 0o600);
  } catch {
    // A file we may read but not chmod (owned by another user) is the owner's decision.
  }
}

function decodeKey(encoded: string, source: string): Buffer {
  const key = Buffer.from(encoded.trim(), "base64");
  if (key.length !== KEY_BYTES || key.toString("base64") !== encoded.trim()) {
    throw new ConfigError(`the local store key from ${source} must be ${KEY_BYTES} bytes encoded as base64`, {
      provider: PROVIDER,
      field: "key",
    });
  }
  return key;
}

/**
 * The key comes from config, else from the key file beside the database. A key file is only
 * ever created for a database that has no key check yet: creating a fresh key for a database
 * encrypted with a lost one would make its secrets unreadable without saying why.
 */
function resolveKey(
  db: SqliteDatabase,
  databasePath: string,
  configuredKey: string | undefined,
  readOnly: boolean,
): Buffer {
  const keyPath = keyFilePath(databasePath);
  const keyCheck = db.prepare<{ value: Buffer }>("SELECT value FROM omnisecret_meta WHERE name = 'key_check'").get();
  let key: Buffer;
  if (configuredKey !== undefined) {
    key = decodeKey(configuredKey, CONFIGURED_KEY);
  } else if (existsSync(keyPath)) {
    key = decodeKey(readFileSync(keyPath, "utf8"), `key file ${keyPath}`);
  } else if (keyCheck !== undefined) {
    throw new ConfigError(
      `the local store at ${databasePath} is encrypted, but its key file ${keyPath} is missing and no key is configured (set \`key\` or OMNISECRET_LOCAL_KEY)`,
      { provider: PROVIDER, field: "key" },
    );
  } else {
    key = createKeyFile(keyPath);
  }
  verifyOrRecordKey(db, key, databasePath, readOnly);
  return key;
}

/** Creates the key file atomically: a racing process either wins or reads the winner's complete file. */
function createKeyFile(keyPath: string): Buffer {
  const candidate = randomBytes(KEY_BYTES);
  const temporary = `${keyPath}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temporary, `${candidate.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  try {
    linkSync(temporary, keyPath);
    return candidate;
  } catch (error) {
    if (errorCodeOf(error) !== "EEXIST") throw error;
    return decodeKey(readFileSync(keyPath, "utf8"), `key file ${keyPath}`);
  } finally {
    unlinkSync(temporary);
  }
}

function verifyOrRecordKey(db: SqliteDatabase, key: Buffer, databasePath: string, readOnly: boolean): void {
  const recorded = db.prepare("SELECT 1 FROM omnisecret_meta WHERE name = 'key_check'").get() !== undefined;
  const check = () => {
    const stored = db
      .prepare<{ value: Buffer }>("SELECT value FROM omnisecret_meta WHERE name = 'key_check'")
      .get()?.value;
    if (stored === undefined) {
      const { nonce, ciphertext, authTag } = encrypt(key, KEY_CHECK_PLAINTEXT, Buffer.from(KEY_CHECK_AAD));
      db.prepare("INSERT INTO omnisecret_meta (name, value) VALUES ('key_check', ?)").run(
        Buffer.concat([nonce, authTag, ciphertext]),
      );
      return;
    }
    const nonce = stored.subarray(0, NONCE_BYTES);
    const authTag = stored.subarray(NONCE_BYTES, NONCE_BYTES + 16);
    const ciphertext = stored.subarray(NONCE_BYTES + 16);
    let plaintext: string | undefined;
    try {
      plaintext = decrypt(key, nonce, ciphertext, authTag, Buffer.from(KEY_CHECK_AAD));
    } catch {
      plaintext = undefined;
    }
    if (plaintext !== KEY_CHECK_PLAINTEXT) {
      throw new ConfigError(
        `the key given for the local store at ${databasePath} is not the key its secrets were encrypted with`,
        { provider: PROVIDER, field: "key" },
      );
    }
  };
  // IMMEDIATE takes the write lock first, so two processes opening a new database agree on one
  // key check. A key check already recorded is only read, which needs no write lock.
  transaction(db, recorded || readOnly ? "deferred" : "immediate", check);
}

function encrypt(key: Buffer, plaintext: string, aad: Buffer): { nonce: Buffer; ciphertext: Buffer; authTag: Buffer } {
  // A random 96-bit nonce per write: with one key, the chance of a repeat stays negligible far past any realistic number of writes.
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return { nonce, ciphertext, authTag: cipher.getAuthTag() };
}

function decrypt(key: Buffer, nonce: Buffer, ciphertext: Buffer, authTag: Buffer, aad: Buffer): string {
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(authTag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8");
}
