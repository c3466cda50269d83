/**
 * The one SQLite interface the local store is written against, and the choice of driver behind
 * it: Node's built-in `node:sqlite` where the running Node has it (22.13+, 24), else the
 * better-sqlite3 package, an optional peer dependency (Node 20). Both open the same file format,
 * so a database written through one is read through the other.
 *
 * Only what the adapter uses is here: statements with positional parameters, `exec`, and
 * transactions. Blobs come back as `Buffer` from both, and `sqliteErrorCode` reads SQLite's
 * result code from either driver's errors, so error mapping is written once.
 */

import type { NodeSqliteModule } from "./sqlite-node.js";

/** A value bound to a statement's `?` parameter. */
export type SqliteValue = string | number | bigint | Buffer | null;

export interface SqliteStatement<Row> {
  /** Runs the statement; `changes` is the number of rows it inserted, updated or deleted. */
  run(...params: SqliteValue[]): { changes: number };
  /** The first row, or undefined when there is none. */
  get(...params: SqliteValue[]): Row | undefined;
  all(...params: SqliteValue[]): Row[];
}

export interface SqliteDatabase {
  prepare<Row = Record<string, unknown>>(sql: string): SqliteStatement<Row>;
  /** Runs one or more statements that return nothing. */
  exec(sql: string): void;
  readonly isOpen: boolean;
  close(): void;
}

export interface SqliteDriver {
  /** `node:sqlite` or `better-sqlite3`. */
  readonly name: string;
  /** Opens (creating it if missing) the database file, read-write, or read-only when the file cannot be written. */
  open(path: string): SqliteDatabase;
}

/**
 * Runs `work` in a transaction. `immediate` takes the write lock at the start, so two
 * connections doing the same check-then-write agree; `deferred` takes it at the first write.
 */
export function transaction<T>(db: SqliteDatabase, mode: "deferred" | "immediate", work: () => T): T {
  db.exec(mode === "immediate" ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
  let result: T;
  try {
    result = work();
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
  db.exec("COMMIT");
  return result;
}

let loading: Promise<SqliteDriver> | undefined;

/**
 * The driver for this Node: `node:sqlite` when it is built in, else better-sqlite3. Importing
 * better-sqlite3 when it is not installed fails with ERR_MODULE_NOT_FOUND naming it, which the
 * registry turns into "run `npm install better-sqlite3`".
 */
export function loadSqliteDriver(): Promise<SqliteDriver> {
  loading ??= (async () => {
    const builtin = builtinSqlite();
    if (builtin) return (await import("./sqlite-node.js")).nodeSqliteDriver(builtin);
    return (await import("./sqlite-better.js")).betterSqlite3Driver();
  })();
  return loading;
}

/**
 * `node:sqlite`, or undefined where this Node lacks it (Node 20; Node 22 before 22.13 without
 * `--experimental-sqlite`). Node 22 marks it experimental and prints an ExperimentalWarning on
 * stderr when it loads; that one warning says nothing to a CLI user, so it alone is dropped.
 */
function builtinSqlite(): NodeSqliteModule | undefined {
  const original = process.emitWarning;
  process.emitWarning = function emitWarningExceptSqlite(this: unknown, warning: string | Error, ...rest: unknown[]) {
    const options = rest[0];
    const type = typeof options === "string" ? options : (options as { type?: unknown } | undefined)?.type;
    const message = typeof warning === "string" ? warning : warning.message;
    if (type === "ExperimentalWarning" && message.startsWith("SQLite is an experimental feature")) return;
    return (original as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    // getBuiltinModule (Node 20.16+, 22.3+) returns undefined for a module this Node does not have.
    return process.getBuiltinModule?.("node:sqlite") as NodeSqliteModule | undefined;
  } finally {
    process.emitWarning = original;
  }
}

/** SQLite's primary result codes by number (https://sqlite.org/rescode.html). */
const PRIMARY_CODES: Readonly<Record<number, string>> = {
  1: "SQLITE_ERROR",
  2: "SQLITE_INTERNAL",
  3: "SQLITE_PERM",
  4: "SQLITE_ABORT",
  5: "SQLITE_BUSY",
  6: "SQLITE_LOCKED",
  7: "SQLITE_NOMEM",
  8: "SQLITE_READONLY",
  9: "SQLITE_INTERRUPT",
  10: "SQLITE_IOERR",
  11: "SQLITE_CORRUPT",
  12: "SQLITE_NOTFOUND",
  13: "SQLITE_FULL",
  14: "SQLITE_CANTOPEN",
  15: "SQLITE_PROTOCOL",
  16: "SQLITE_EMPTY",
  17: "SQLITE_SCHEMA",
  18: "SQLITE_TOOBIG",
  19: "SQLITE_CONSTRAINT",
  20: "SQLITE_MISMATCH",
  21: "SQLITE_MISUSE",
  22: "SQLITE_NOLFS",
  23: "SQLITE_AUTH",
  24: "SQLITE_FORMAT",
  25: "SQLITE_RANGE",
  26: "SQLITE_NOTADB",
};

/** The extended codes the adapter tells apart; others read as their primary code. */
const EXTENDED_CODES: Readonly<Record<number, string>> = {
  1555: "SQLITE_CONSTRAINT_PRIMARYKEY",
  2067: "SQLITE_CONSTRAINT_UNIQUE",
  517: "SQLITE_BUSY_SNAPSHOT",
  773: "SQLITE_BUSY_TIMEOUT",
  1032: "SQLITE_READONLY_DBMOVED",
  1544: "SQLITE_READONLY_DIRECTORY",
};

/**
 * SQLite's result code of a driver error as better-sqlite3 spells it (`SQLITE_BUSY`,
 * `SQLITE_CONSTRAINT_PRIMARYKEY`); for anything else, its `code` (such as `EACCES`) or "".
 * better-sqlite3 puts that name in `code`; node:sqlite sets `code` to ERR_SQLITE_ERROR and the
 * number in `errcode`.
 */
export function sqliteErrorCode(error: unknown): string {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  if (code === "ERR_SQLITE_ERROR" && typeof errcode === "number") {
    return EXTENDED_CODES[errcode] ?? PRIMARY_CODES[errcode & 0xff] ?? `SQLITE_${errcode}`;
  }
  return typeof code === "string" ? code : "";
}
