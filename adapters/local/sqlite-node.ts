/**
 * The SQLite driver on Node's built-in `node:sqlite` (Node 22.13+ and 24): nothing to install or
 * compile. The types below are the part of `node:sqlite` used here, written out because
 * `@types/node` for Node 20 has none.
 */
import type { SqliteDatabase, SqliteDriver, SqliteStatement, SqliteValue } from "./sqlite.js";

interface StatementSync {
  run(...params: SqliteValue[]): { changes: number | bigint };
  get(...params: SqliteValue[]): Record<string, unknown> | undefined;
  all(...params: SqliteValue[]): Record<string, unknown>[];
}

interface DatabaseSync {
  prepare(sql: string): StatementSync;
  exec(sql: string): void;
  readonly isOpen: boolean;
  close(): void;
}

export interface NodeSqliteModule {
  DatabaseSync: new (path: string) => DatabaseSync;
}

/** node:sqlite returns blobs as Uint8Array; the adapter works with Buffer, as better-sqlite3 returns. */
function withBuffers<Row>(row: Record<string, unknown>): Row {
  for (const [column, value] of Object.entries(row)) {
    if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
      row[column] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
  }
  return row as Row;
}

function wrapStatement<Row>(statement: StatementSync): SqliteStatement<Row> {
  return {
    run: (...params) => ({ changes: Number(statement.run(...params).changes) }),
    get: (...params) => {
      const row = statement.get(...params);
      return row === undefined ? undefined : withBuffers<Row>(row);
    },
    all: (...params) => statement.all(...params).map((row) => withBuffers<Row>(row)),
  };
}

export function nodeSqliteDriver(sqlite: NodeSqliteModule): SqliteDriver {
  return {
    name: "node:sqlite",
    open(path: string): SqliteDatabase {
      const db = new sqlite.DatabaseSync(path);
      return {
        prepare: <Row>(sql: string) => wrapStatement<Row>(db.prepare(sql)),
        exec: (sql) => db.exec(sql),
        get isOpen() {
          return db.isOpen;
        },
        close: () => db.close(),
      };
    },
  };
}
