/**
 * The SQLite driver on better-sqlite3, for Node versions without `node:sqlite` (Node 20). It is
 * an optional peer dependency: a native addon, installed only by those who need it.
 */
import Database from "better-sqlite3";
import { ConfigError } from "../../src/kit/index.js";
import type { SqliteDatabase, SqliteDriver, SqliteStatement } from "./sqlite.js";

export function betterSqlite3Driver(): SqliteDriver {
  return {
    name: "better-sqlite3",
    open(path: string): SqliteDatabase {
      let db: Database.Database;
      try {
        db = new Database(path);
      } catch (error) {
        throw addonError(error) ?? error;
      }
      return {
        prepare: <Row>(sql: string) => db.prepare(sql) as unknown as SqliteStatement<Row>,
        exec: (sql) => {
          db.exec(sql);
        },
        get isOpen() {
          return db.open;
        },
        close: () => db.close(),
      };
    },
  };
}

/**
 * better-sqlite3 loads its native addon when the first database is opened; an addon built for
 * another Node (or never built) fails there, which is an installation problem, not a bad path.
 */
function addonError(error: unknown): ConfigError | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== "ERR_DLOPEN_FAILED" && !String(message).includes("bindings file")) return undefined;
  return new ConfigError(
    `better-sqlite3's native addon could not be loaded on Node ${process.version}: run \`npm rebuild better-sqlite3\`, or use Node 22.13 or later, where the local store needs no package`,
    { provider: "local", field: "provider", cause: error },
  );
}
