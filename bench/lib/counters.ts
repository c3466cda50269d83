/**
 * Counts the requests each operation sends, process-wide, on both sides of a benchmark:
 *
 * - HTTP (aws, vault): node's diagnostics channel `http.client.request.start`, published by
 *   `http.request` for every request it sends (the AWS SDK and axios in node-vault use it), and
 *   undici's `undici:request:create` for `fetch`, which neither SDK uses.
 * - gRPC (gcp): the Secret Manager SDK (google-gax) passes no interceptors from its options to
 *   grpc-js, and grpc-js binds its `Client` request methods into each service class when the
 *   class is made, so the channel is counted instead: every call, retries included, is one
 *   `Channel.createCall` (one HTTP/2 stream) of the grpc-js copy the SDK uses.
 * - SQLite (local): no network; the statements run are counted instead, by wrapping `run`,
 *   `get`, `all` and `iterate` of better-sqlite3's `Statement`.
 *
 * A benchmark reads `requestCount()` before and after a workload; only one side runs at a time.
 *
 * HTTP answers with a 5xx status are noted too: a server's own failure, which the SDKs retry.
 * LocalStack answers some requests 500 when another request changes its store at the same moment
 * ("dictionary changed size during iteration"), so a test of how many requests an adapter chooses
 * to send leaves those out (`requestsChosenBy`; `isServerFault` for the request log).
 *
 * Connections opened are counted too (`connectionCount()`), to show that a side reuses its
 * connections (HTTP keep-alive, one HTTP/2 session for gRPC) rather than opening one per request:
 * every TCP connection a client opens, TLS and HTTP/2 included, goes through
 * `net.Socket.prototype.connect`, which is wrapped. (The diagnostics channel `net.client.socket`
 * would miss TLS: `tls.connect` does not publish it on Node 20.)
 */
import { subscribe } from "node:diagnostics_channel";
import { createRequire } from "node:module";
import { Socket } from "node:net";

let count = 0;
/** What was sent since `recordRequests()` was called: `METHOD path` for HTTP (AWS's with its target), the method path for gRPC. */
let log: string[] | undefined;
let serverFaults = 0;
/** Where each HTTP request in flight stands in the log, to mark it if its answer is a 5xx. */
const logEntries = new WeakMap<object, { log: string[]; index: number }>();
const SERVER_FAULT_MARK = " (server fault)";

function counted(description: string): void {
  count += 1;
  log?.push(description);
}

subscribe("http.client.request.start", (message) => {
  const { request } = message as {
    request?: { method?: string; path?: string; getHeader?: (name: string) => unknown };
  };
  // AWS sends every operation as POST /: its target header says which one.
  const target = request?.getHeader?.("x-amz-target");
  counted(`${request?.method ?? "?"} ${request?.path ?? "?"}${typeof target === "string" ? ` ${target}` : ""}`);
  if (request && log) logEntries.set(request, { log, index: log.length - 1 });
});
subscribe("http.client.response.finish", (message) => {
  const { request, response } = message as { request?: object; response?: { statusCode?: number } };
  const status = response?.statusCode ?? 0;
  if (status < 500) return;
  serverFaults += 1;
  const entry = request && logEntries.get(request);
  if (entry) entry.log[entry.index] += ` → ${status}${SERVER_FAULT_MARK}`;
});
subscribe("undici:request:create", (message) => {
  const { request } = message as { request?: { method?: string; path?: string } };
  counted(`${request?.method ?? "?"} ${request?.path ?? "?"}`);
});

export function requestCount(): number {
  return count;
}

let connections = 0;
const connect = Socket.prototype.connect as (...args: unknown[]) => Socket;
Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
  connections += 1;
  return connect.apply(this, args);
} as typeof Socket.prototype.connect;

/** TCP connections opened by this process so far (each a new socket's `connect`). */
export function connectionCount(): number {
  return connections;
}

/** Starts a fresh log of the requests sent; `requestLog()` reads it. For tests that check which requests an operation sends. */
export function recordRequests(): void {
  log = [];
}

export function requestLog(): readonly string[] {
  return log ?? [];
}

/** Whether a request log entry was answered with a 5xx status (see above). */
export function isServerFault(entry: string): boolean {
  return entry.endsWith(SERVER_FAULT_MARK);
}

let grpcWrapped = false;

/** Wraps `Channel.prototype.createCall` of the grpc-js that @google-cloud/secret-manager's google-gax loads. */
export function countGrpcCalls(): void {
  if (grpcWrapped) return;
  const require = createRequire(import.meta.url);
  const gaxEntry = createRequire(require.resolve("@google-cloud/secret-manager")).resolve("google-gax");
  const grpc = createRequire(gaxEntry)("@grpc/grpc-js") as { Channel: { prototype: Record<string, unknown> } };
  const original = grpc.Channel.prototype.createCall as (...args: unknown[]) => unknown;
  grpc.Channel.prototype.createCall = function (this: unknown, ...args: unknown[]) {
    counted(`gRPC ${String(args[0])}`);
    return original.apply(this, args);
  };
  grpcWrapped = true;
}

let sqliteWrapped = false;

/** Wraps better-sqlite3's `Statement` methods that execute a statement. */
export async function countSqliteStatements(): Promise<void> {
  if (sqliteWrapped) return;
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(":memory:");
  const prototype = Object.getPrototypeOf(db.prepare("SELECT 1")) as Record<string, unknown>;
  db.close();
  for (const method of ["run", "get", "all", "iterate"]) {
    const original = prototype[method] as (...args: unknown[]) => unknown;
    prototype[method] = function (this: unknown, ...args: unknown[]) {
      counted(`SQL ${method}`);
      return original.apply(this, args);
    };
  }
  sqliteWrapped = true;
}

/**
 * The requests `run` sent, less those the server answered with a 5xx (its own failures, which the
 * SDKs retry; see above): the requests an adapter chose to send, for tests that count them.
 */
export async function requestsChosenBy(run: () => Promise<unknown>): Promise<number> {
  const requestsBefore = count;
  const faultsBefore = serverFaults;
  await run();
  return count - requestsBefore - (serverFaults - faultsBefore);
}
