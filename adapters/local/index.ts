/**
 * The embedded store: secrets in a SQLite database on this machine, each value encrypted at
 * rest with AES-256-GCM. It is omnisecret's default provider.
 *
 * Several processes may use one database at once: WAL mode lets readers run beside a writer,
 * the busy timeout makes a writer wait for another's lock instead of failing, and every
 * operation is one statement, so each is atomic (a store is an INSERT that the primary key
 * lets only one process win); a conditional delete, and an update that keeps versions, is one
 * immediate transaction.
 *
 * Versions (schema 2): `omnisecret_secrets` holds each secret's current values, its version
 * number and its creation time (the incarnation in its version tokens); `omnisecret_versions`
 * holds the earlier versions kept (`keepVersions` 2 or more), each encrypted with associated data
 * that binds prefix, id, incarnation and number, so a row moved to another version, id or
 * incarnation does not decrypt. Two triggers keep the tables in step whoever writes: a delete of a
 * secret deletes its versions, and an update that does not advance the version number (an
 * omnisecret from before versions) is refused instead of replacing a version unseen. A schema-1
 * database is migrated in place when it is first opened for writing (one immediate transaction).
 *
 * SQL statements per operation (BEGIN and COMMIT not counted):
 * - store: one INSERT. get (latest, previous or a token): one SELECT. list: one SELECT (after
 *   a quick check). delete: one DELETE ... RETURNING (its trigger deletes the versions).
 * - update: with keepVersions 1, one UPDATE (version = version + 1); with 2 or more, one
 *   immediate transaction of SELECT (the current row), INSERT (it, re-encrypted as a version) and
 *   UPDATE. Either way a TEMP trigger of the adapter's connection deletes, inside the UPDATE, the
 *   versions beyond its keepVersions, also those a larger keepVersions left (see openStore).
 * - listSecretVersions: one SELECT. getSecretRevision (what a watch polls): one SELECT of the
 *   version columns, nothing decrypted.
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
  currentOperation,
  errorCodeOf,
  InvalidVersionError,
  incarnationOf,
  PermissionDeniedError,
  ProviderUnavailableError,
  parseStoredValues,
  parseVersionToken,
  type ReadOptions,
  SecretAlreadyExistsError,
  SecretChangedError,
  SecretIntegrityError,
  SecretNotFoundError,
  type SecretRead,
  SecretStoreError,
  type SecretsAdapter,
  type SecretValues,
  type SecretVersion,
  versionToken,
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
/** "1": one table of current values. "2": versions (a `version` column, `omnisecret_versions`, two triggers). */
const SCHEMA_VERSION = "2";
/** The native part of a version token: the version number. */
const VERSION_NUMBER = /^[1-9][0-9]{0,14}$/;
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

/** The current row of a secret. */
interface CurrentRow extends EncryptedRow {
  /** The incarnation: when this secret (not this version) was stored. */
  created_at: number;
  /** When the current version was made. */
  updated_at: number;
  version: number;
}

/** The current row's incarnation and number, with one kept version's ciphertext (nulls where none is kept). */
interface VersionRow {
  created_at: number;
  current_version: number;
  current_nonce: Buffer;
  current_ciphertext: Buffer;
  current_auth_tag: Buffer;
  nonce: Buffer | null;
  ciphertext: Buffer | null;
  auth_tag: Buffer | null;
}

/** One line of a version listing: the current row, then each kept version (nulls when none is). */
interface VersionListRow {
  created_at: number;
  updated_at: number;
  current_version: number;
  version: number | null;
  version_created_at: number | null;
}

/**
 * Incarnations of secrets this process deleted in the millisecond they were created, by database
 * path, prefix and id: a new store of the id in that same millisecond takes the next one, so an
 * old token never names the new secret's versions. (Another process doing the same within one
 * millisecond is not seen.) Entries live until that store, so the map stays as small as such races.
 */
const deletedJustNow = new Map<string, number>();

/** An opened database with its key and statements. */
interface OpenStore {
  readonly db: SqliteDatabase;
  readonly key: Buffer;
  readonly insert: SqliteStatement<never>;
  readonly select: SqliteStatement<CurrentRow>;
  /** The current values only: a get of the latest reads no more (its version token is not asked for). */
  readonly selectValues: SqliteStatement<EncryptedRow>;
  /** A kept version by number, beside the current row. */
  readonly selectVersion: SqliteStatement<VersionRow>;
  readonly listVersions: SqliteStatement<VersionListRow>;
  readonly selectRevision: SqliteStatement<{ created_at: number; version: number; updated_at: number }>;
  readonly update: SqliteStatement<never>;
  readonly insertVersion: SqliteStatement<never>;
  readonly delete: SqliteStatement<{ created_at: number }>;
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
    this.capabilities = {
      maxValueBytes: options.maxValueBytes,
      conditionalDelete: true,
      list: true,
      versions: true,
      revision: true,
    };
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
    let now = Date.now();
    const deleted = deletedJustNow.get(this.#incarnationKey(id));
    if (deleted !== undefined) {
      deletedJustNow.delete(this.#incarnationKey(id));
      if (deleted >= now) now = deleted + 1;
    }
    try {
      this.#run(id, () => store.insert.run(this.#prefix, id, nonce, ciphertext, authTag, now, now));
    } catch (error) {
      if (sqliteErrorCode(error) === "SQLITE_CONSTRAINT_PRIMARYKEY") throw new SecretAlreadyExistsError(id);
      throw error;
    }
  }

  async getSecretValues(id: string, options?: ReadOptions): Promise<SecretRead> {
    const selector = options?.version ?? "latest";
    const store = this.#run(id, () => this.#open(false));
    if (selector === "latest") {
      // Without the version's token: the facade does not hand it out, and working it out on every
      // get cost 6% of a get's throughput (bench, local get 91% -> 86% of raw SQLite's).
      const row = store && this.#run(id, () => store.selectValues.get(this.#prefix, id));
      if (!row) throw new SecretNotFoundError(id);
      return { values: this.#decryptRow(store, row, id) };
    }
    const wanted = selector === "previous" ? undefined : parseVersionToken(selector, VERSION_NUMBER);
    // The facade passes only tokens isVersionToken accepted; another is a caller's mistake all the same.
    if (selector !== "previous" && wanted === undefined) {
      throw new InvalidVersionError(id, "is not a version token of the local store", { provider: PROVIDER });
    }
    const number = wanted === undefined ? -1 : Number(wanted.native);
    // One SELECT: the current row with the version asked for (for "previous", the current one's number - 1).
    const row = store && this.#run(id, () => store.selectVersion.get(number, number, this.#prefix, id));
    if (!row) throw new SecretNotFoundError(id);
    const incarnation = incarnationOf(row.created_at);
    if (wanted !== undefined && wanted.incarnation !== incarnation) {
      throw versionNotFound(id, "that version is gone: the secret it belonged to was deleted");
    }
    const version = wanted === undefined ? row.current_version - 1 : number;
    if (version === row.current_version) {
      const current = { nonce: row.current_nonce, ciphertext: row.current_ciphertext, auth_tag: row.current_auth_tag };
      return { values: this.#decryptRow(store, current, id), version: this.#token(row.created_at, version) };
    }
    if (version < 1) throw versionNotFound(id, "it has no previous version: it was never updated");
    if (version > row.current_version) throw versionNotFound(id, "it has no such version");
    const kept = version > row.current_version - this.#options.keepVersions;
    if (!kept || row.nonce === null || row.ciphertext === null || row.auth_tag === null) {
      const which = wanted === undefined ? "its previous version" : "that version";
      throw versionNotFound(
        id,
        `${which} is no longer kept (keepVersions is ${this.#options.keepVersions}: the ${this.#options.keepVersions === 1 ? "current version only" : `${this.#options.keepVersions} latest versions`})`,
      );
    }
    const values = this.#decryptRow(
      store,
      { nonce: row.nonce, ciphertext: row.ciphertext, auth_tag: row.auth_tag },
      id,
      this.#versionAad(id, incarnation, version),
    );
    return { values, version: this.#token(row.created_at, version) };
  }

  async listSecretVersions(id: string, _options?: CallOptions): Promise<readonly SecretVersion[]> {
    const store = this.#run(id, () => this.#open(false));
    const rows = store ? this.#run(id, () => store.listVersions.all(this.#options.keepVersions, this.#prefix, id)) : [];
    const first = rows[0];
    if (!first) throw new SecretNotFoundError(id);
    const versions: SecretVersion[] = [
      {
        token: this.#token(first.created_at, first.current_version),
        createdAt: new Date(first.updated_at),
        current: true,
        readable: true,
      },
    ];
    for (const row of rows) {
      if (row.version === null || row.version_created_at === null) continue;
      versions.push({
        token: this.#token(row.created_at, row.version),
        createdAt: new Date(row.version_created_at),
        current: false,
        readable: true,
      });
    }
    return versions;
  }

  async getSecretRevision(id: string, _options?: CallOptions): Promise<string> {
    const store = this.#run(id, () => this.#open(false));
    const row = store && this.#run(id, () => store.selectRevision.get(this.#prefix, id));
    if (!row) throw new SecretNotFoundError(id);
    // updated_at too: a schema-1 database's view numbers every row version 1.
    return `${row.created_at}.${row.version}.${row.updated_at}`;
  }

  isVersionToken(token: string): boolean {
    return parseVersionToken(token, VERSION_NUMBER) !== undefined;
  }

  #token(createdAt: number, version: number): string {
    return versionToken(incarnationOf(createdAt), version);
  }

  #decryptRow(store: OpenStore, row: EncryptedRow, id: string, aad: Buffer = this.#aad(id)): SecretValues {
    return parseStoredValues(this.#decryptSerialized(store, row, id, aad), id, PROVIDER);
  }

  #decryptSerialized(store: OpenStore, row: EncryptedRow, id: string, aad: Buffer): string {
    try {
      return decrypt(store.key, row.nonce, row.ciphertext, row.auth_tag, aad);
    } catch {
      throw new SecretIntegrityError(id, "its ciphertext did not authenticate with this store's key", {
        provider: PROVIDER,
      });
    }
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
    const keep = this.#options.keepVersions;
    if (keep === 1) {
      // Nothing to keep: one UPDATE, which also advances the version number (and whose trigger
      // deletes the versions a larger keepVersions left).
      const result = this.#run(id, () => store.update.run(nonce, ciphertext, authTag, Date.now(), this.#prefix, id));
      if (result.changes === 0) throw new SecretNotFoundError(id);
      return;
    }
    // One immediate transaction: the version replaced is the one kept, whatever other processes do.
    this.#run(id, () =>
      transaction(store.db, "immediate", () => {
        const row = store.select.get(this.#prefix, id);
        if (!row) throw new SecretNotFoundError(id);
        // Re-encrypted with its number bound in, so it cannot be passed off as another version.
        const replaced = this.#decryptSerialized(store, row, id, this.#aad(id));
        const kept = encrypt(store.key, replaced, this.#versionAad(id, incarnationOf(row.created_at), row.version));
        store.insertVersion.run(
          this.#prefix,
          id,
          row.version,
          kept.nonce,
          kept.ciphertext,
          kept.authTag,
          row.updated_at,
        );
        // Its trigger deletes what keepVersions no longer keeps.
        store.update.run(nonce, ciphertext, authTag, Date.now(), this.#prefix, id);
      }),
    );
  }

  async deleteSecretValues(id: string, _options?: CallOptions): Promise<void> {
    const store = this.#run(id, () => this.#open(false));
    if (!store) throw new SecretNotFoundError(id);
    const deleted = this.#run(id, () => store.delete.get(this.#prefix, id));
    if (!deleted) throw new SecretNotFoundError(id);
    this.#deleted(id, deleted.created_at);
  }

  /** Notes an incarnation deleted in the millisecond it began (see #deletedJustNow). */
  #deleted(id: string, createdAt: number): void {
    if (createdAt >= Date.now()) deletedJustNow.set(this.#incarnationKey(id), createdAt);
  }

  #incarnationKey(id: string): string {
    return `${this.path}\u0000${this.#prefix}\u0000${id}`;
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
        store.delete.get(this.#prefix, id);
        this.#deleted(id, row.created_at);
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

  /**
   * A kept version's: its prefix, id, incarnation and number, so a row moved to another version,
   * id or incarnation (or made current) does not decrypt. Its first part tells it from a current
   * row's, whose prefix can never hold `:`.
   */
  #versionAad(id: string, incarnation: string, version: number): Buffer {
    return Buffer.from(
      `omnisecret:version\u0000${this.#prefix}\u0000${id}\u0000${incarnation}\u0000${version}`,
      "utf8",
    );
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
  // A schema-1 file that cannot be written: its writes fail as SQLite's would, before any SQL.
  // Each statement run is one request of the operation's span (telemetry), as the header counts them.
  const prepare = <Row>(sql: string): SqliteStatement<Row> => counted(db.prepare<Row>(sql));
  const write = <Row>(sql: string): SqliteStatement<Row> => (opened.schemaOne ? READ_ONLY_STATEMENT : prepare(sql));
  try {
    if (!opened.schemaOne) {
      // This connection's updates delete, within their own statement (atomic with it, one statement
      // still), the versions beyond its keepVersions: also those a larger keepVersions left, so a
      // user who lowered it finds no old ciphertext in the file once a secret is updated. TEMP: the
      // number is this adapter's, and the file's schema stays what every omnisecret knows. (SQLite
      // allows no schema name on the table a trigger's DELETE names; no temp table has this name.)
      db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS omnisecret_prune_versions
        AFTER UPDATE OF version ON main.omnisecret_secrets
        BEGIN
          DELETE FROM omnisecret_versions
          WHERE prefix = new.prefix AND id = new.id AND version <= new.version - ${options.keepVersions};
        END`);
    }
    return {
      db,
      key: resolveKey(db, path, options.key, opened.readOnly),
      insert: write(
        "INSERT INTO omnisecret_secrets (prefix, id, nonce, ciphertext, auth_tag, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
      ),
      select: prepare(
        "SELECT nonce, ciphertext, auth_tag, created_at, updated_at, version FROM omnisecret_secrets WHERE prefix = ? AND id = ?",
      ),
      selectValues: prepare("SELECT nonce, ciphertext, auth_tag FROM omnisecret_secrets WHERE prefix = ? AND id = ?"),
      selectRevision: prepare(
        "SELECT created_at, version, updated_at FROM omnisecret_secrets WHERE prefix = ? AND id = ?",
      ),
      // The first two parameters: a version number twice, or -1 twice for the one before the current.
      selectVersion: prepare(`
        SELECT s.created_at, s.version AS current_version, s.nonce AS current_nonce,
          s.ciphertext AS current_ciphertext, s.auth_tag AS current_auth_tag, v.nonce, v.ciphertext, v.auth_tag
        FROM omnisecret_secrets s LEFT JOIN omnisecret_versions v
          ON v.prefix = s.prefix AND v.id = s.id AND v.version = iif(? = -1, s.version - 1, ?)
        WHERE s.prefix = ? AND s.id = ?`),
      // The first parameter: keepVersions; only the versions within it are listed.
      listVersions: prepare(`
        SELECT s.created_at, s.updated_at, s.version AS current_version, v.version, v.created_at AS version_created_at
        FROM omnisecret_secrets s LEFT JOIN omnisecret_versions v
          ON v.prefix = s.prefix AND v.id = s.id AND v.version < s.version AND v.version > s.version - ?
        WHERE s.prefix = ? AND s.id = ?
        ORDER BY v.version DESC`),
      update: write(
        "UPDATE omnisecret_secrets SET nonce = ?, ciphertext = ?, auth_tag = ?, updated_at = ?, version = version + 1 WHERE prefix = ? AND id = ?",
      ),
      insertVersion: write(
        "INSERT INTO omnisecret_versions (prefix, id, version, nonce, ciphertext, auth_tag, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      // Its trigger deletes the secret's kept versions with it.
      delete: write("DELETE FROM omnisecret_secrets WHERE prefix = ? AND id = ? RETURNING created_at"),
      list: prepare("SELECT id FROM omnisecret_secrets WHERE prefix = ? ORDER BY id"),
      quickCheck: prepare("PRAGMA quick_check"),
    };
  } catch (error) {
    db.close();
    throw mapSqliteError(error, undefined, path) ?? error;
  }
}

/** A statement whose runs count as requests of the operation being traced, if one is. */
function counted<Row>(statement: SqliteStatement<Row>): SqliteStatement<Row> {
  return {
    run: (...params) => {
      currentOperation()?.count();
      return statement.run(...params);
    },
    get: (...params) => {
      currentOperation()?.count();
      return statement.get(...params);
    },
    all: (...params) => {
      currentOperation()?.count();
      return statement.all(...params);
    },
  };
}

const READ_ONLY_STATEMENT: SqliteStatement<never> = {
  run: readOnlyFailure,
  get: readOnlyFailure,
  all: readOnlyFailure,
};

function readOnlyFailure(): never {
  throw Object.assign(new Error("attempt to write a readonly database"), { code: "SQLITE_READONLY" });
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
  /** Read-only and still at schema 1 (see readSchemaOne): there is nothing to prepare writes against. */
  readonly schemaOne?: boolean;
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
  let found: unknown;
  try {
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    found = schemaVersion(db);
    hadSchema = found !== undefined;
    restrictToOwner(path);
    db.exec("PRAGMA journal_mode = WAL");
    // NORMAL is durable in WAL mode except for the last commits before a power loss.
    db.exec("PRAGMA synchronous = NORMAL");
    // An existing store is opened without writing, so reads work while another process holds
    // the write lock (WAL lets readers pass a writer) and on a file that cannot be written; a
    // schema-1 store is migrated first, once.
    if (hadSchema) {
      if (String(found) !== SCHEMA_VERSION) migrate(db, path);
      return { db, hadSchema, readOnly: false };
    }
    if (expectSchema) {
      throw new SecretStoreError(
        "E_SECRET_INTEGRITY",
        `the local store at ${path} is empty but its key file exists: the database was truncated or replaced. Restore it from a backup, or remove ${keyFilePath(path)} to start a new store`,
        { provider: PROVIDER },
      );
    }
    // The schema-1 tables, then the migration to 2: a process of an older omnisecret creating the
    // same new store at this moment makes the same schema-1 tables, which are migrated here.
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
    db.prepare("INSERT OR IGNORE INTO omnisecret_meta (name, value) VALUES ('schema_version', '1')").run();
    migrate(db, path);
    return { db, hadSchema, readOnly: false };
  } catch (error) {
    if (error instanceof SecretStoreError) {
      db.close();
      throw error;
    }
    const code = sqliteErrorCode(error);
    // A store that cannot be written (a read-only file) can still be read: reads work, and each
    // write says why it cannot. One still at schema 1 is read as it is (see readSchemaOne).
    if (hadSchema && code.startsWith("SQLITE_READONLY")) {
      const schemaOne = String(found) === "1";
      if (schemaOne) readSchemaOne(db);
      return { db, hadSchema, readOnly: true, schemaOne };
    }
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

/**
 * Brings a schema-1 database to schema 2, in place, in one immediate transaction: another
 * process migrating at the same moment waits for it and then finds schema 2, and one that
 * opened the file before goes on with its statements re-prepared by SQLite. Existing secrets
 * become version 1 of themselves (their incarnation is their created_at), readable as before.
 * Called only for a database found at another schema than 2, so opening a schema-2 one writes nothing.
 */
function migrate(db: SqliteDatabase, path: string): void {
  transaction(db, "immediate", () => {
    const found = String(schemaVersion(db));
    if (found === SCHEMA_VERSION) return;
    if (found !== "1") {
      throw new ConfigError(
        `the local store at ${path} has schema version ${found}, which this omnisecret does not know: it was made by a newer omnisecret`,
        { provider: PROVIDER, field: "path" },
      );
    }
    db.exec(`
      ALTER TABLE omnisecret_secrets ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
      CREATE TABLE IF NOT EXISTS omnisecret_versions (
        prefix TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        nonce BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        auth_tag BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (prefix, id, version)
      ) WITHOUT ROWID;
      CREATE TRIGGER IF NOT EXISTS omnisecret_versions_go_with_secret AFTER DELETE ON omnisecret_secrets
      BEGIN
        DELETE FROM omnisecret_versions WHERE prefix = old.prefix AND id = old.id;
      END;
      CREATE TRIGGER IF NOT EXISTS omnisecret_update_advances_version BEFORE UPDATE OF ciphertext ON omnisecret_secrets
      WHEN new.version IS old.version
      BEGIN
        SELECT RAISE(ABORT, '${STALE_WRITER}');
      END;
      UPDATE omnisecret_meta SET value = '${SCHEMA_VERSION}' WHERE name = 'schema_version';
    `);
  });
}

/** What an update by an omnisecret from before versions meets on a schema-2 database. */
const STALE_WRITER =
  "this omnisecret local store keeps secret versions (schema 2): update omnisecret to change its secrets";

/**
 * A schema-1 database that cannot be written (so cannot be migrated) is read through temporary
 * objects of this connection, which shadow the file's: its secrets as version 1, no kept
 * versions. The file is not touched.
 */
function readSchemaOne(db: SqliteDatabase): void {
  db.exec(`
    CREATE TEMP VIEW omnisecret_secrets AS SELECT *, 1 AS version FROM main.omnisecret_secrets;
    CREATE TEMP TABLE omnisecret_versions (
      prefix TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, nonce BLOB NOT NULL,
      ciphertext BLOB NOT NULL, auth_tag BLOB NOT NULL, created_at INTEGER NOT NULL,
      PRIMARY KEY (prefix, id, version)) WITHOUT ROWID;
  `);
}

/** A missing version of an existing secret: not found, saying why. */
function versionNotFound(id: string, why: string): SecretNotFoundError {
  const error = new SecretNotFoundError(id, { provider: PROVIDER });
  error.message = `secret ${id}: ${why}`;
  return error;
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
