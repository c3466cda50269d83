/**
 * A TCP proxy between an adapter and its test server that injects network faults, switched at
 * runtime. Plain TCP, so it serves HTTP/1.1 (aws, vault, azure) and gRPC over HTTP/2 (gcp) alike.
 * It listens on 127.0.0.1 only and forwards only to the target it was given.
 *
 * A fault applies to connections already open as well as new ones (clients pool connections, and
 * gRPC keeps one open), at the next bytes that cross the proxy:
 * - `pass`: bytes go through.
 * - `delay`: every chunk, both ways, arrives `ms` later (order kept).
 * - `reset`: the client's connection is reset (RST), new connections at once.
 * - `drop`: the client's connection is closed (FIN), new connections at once.
 * - `blackhole`: connections are accepted and nothing is ever answered.
 * - `lose-response`: requests reach the server, but the connection is reset once the server
 *   answers (after `settleMs`, so the server has finished), before any answer byte reaches the
 *   client: the request was applied and the client cannot know. After `times` such cuts the proxy
 *   passes again.
 *
 * `set(fault, { afterAnswers: n })` lets `n` more answers through before the fault starts: an
 * operation's first requests succeed and a later one (a store's second write) meets the fault.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export type Fault =
  | { readonly kind: "pass" }
  | { readonly kind: "delay"; readonly ms: number }
  | { readonly kind: "reset" }
  | { readonly kind: "drop" }
  | { readonly kind: "blackhole" }
  | { readonly kind: "lose-response"; readonly times?: number; readonly settleMs?: number };

interface Connection {
  readonly client: Socket;
  readonly upstream: Socket | undefined;
  /** `lose-response`: the client sent bytes whose answer is to be lost. */
  awaitingAnswer: boolean;
  cutScheduled: boolean;
  /** The client sent bytes the server has not answered yet (for counting answers). */
  requestOpen: boolean;
}

export class FaultProxy {
  readonly #server: Server;
  #target: { host: string; port: number };
  #pending: { fault: Fault; answersLeft: number } | undefined;
  readonly #connections = new Set<Connection>();
  #fault: Fault = { kind: "pass" };
  #cutsLeft = 0;
  /** Responses `lose-response` has cut so far. */
  lostResponses = 0;
  /** Connections accepted so far, and bytes clients sent: a test reads them to know that nothing was sent. */
  accepted = 0;
  bytesFromClients = 0;

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
  }

  /** Starts a proxy on 127.0.0.1 (a free port) in front of `target`, a loopback server. */
  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(target.host)) {
      throw new Error(`the fault proxy only forwards to loopback, not ${target.host}`);
    }
    const server = createServer();
    const proxy = new FaultProxy(server, target);
    server.on("connection", (client) => proxy.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const address = this.#server.address();
    if (typeof address !== "object" || address === null) throw new Error("the fault proxy is not listening");
    return address.port;
  }

  get fault(): Fault {
    return this.#fault;
  }

  /** Switches the fault (after `afterAnswers` more answers); open connections meet it at their next bytes. */
  set(fault: Fault, options: { afterAnswers?: number } = {}): void {
    if (options.afterAnswers) {
      this.#fault = { kind: "pass" };
      this.#pending = { fault, answersLeft: options.afterAnswers };
      return;
    }
    this.#pending = undefined;
    this.#fault = fault;
    if (fault.kind !== "blackhole") {
      // Connections accepted in a blackhole have no server behind them and never could answer:
      // they are reset, so the client connects again.
      for (const connection of this.#connections) if (!connection.upstream) this.#kill(connection, "reset");
    }
    if (fault.kind === "lose-response") this.#cutsLeft = fault.times ?? Number.POSITIVE_INFINITY;
  }

  pass(): void {
    this.set({ kind: "pass" });
  }

  /** Forwards new connections to another port (a restarted server that came up elsewhere). */
  retarget(target: { host: string; port: number }): void {
    this.#target = target;
  }

  /** Closes every open connection (as a restarted server would), whatever the fault. */
  closeConnections(): void {
    for (const connection of this.#connections) this.#kill(connection, "reset");
  }

  async close(): Promise<void> {
    this.closeConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.accepted += 1;
    client.on("error", () => undefined);
    const fault = this.#fault;
    if (fault.kind === "reset") {
      client.resetAndDestroy();
      return;
    }
    if (fault.kind === "drop") {
      client.destroy();
      return;
    }
    // Blackhole: accepted, never connected onwards, never answered.
    const upstream = fault.kind === "blackhole" ? undefined : createConnection(this.#target);
    const connection: Connection = {
      client,
      upstream,
      awaitingAnswer: false,
      cutScheduled: false,
      requestOpen: false,
    };
    this.#connections.add(connection);
    const forget = () => {
      this.#connections.delete(connection);
      client.destroy();
      upstream?.destroy();
    };
    client.on("close", forget);
    if (upstream) {
      upstream.on("error", () => client.resetAndDestroy());
      upstream.on("close", forget);
      upstream.on("data", (chunk: Buffer) => this.#fromServer(connection, chunk));
    }
    client.on("data", (chunk: Buffer) => this.#fromClient(connection, chunk));
  }

  #fromClient(connection: Connection, chunk: Buffer): void {
    this.bytesFromClients += chunk.length;
    connection.requestOpen = true;
    if (this.#pending && this.#pending.answersLeft <= 0) this.set(this.#pending.fault);
    const fault = this.#fault;
    switch (fault.kind) {
      case "pass":
        connection.upstream?.write(chunk);
        return;
      case "delay":
        this.#later(fault.ms, () => connection.upstream?.write(chunk));
        return;
      case "reset":
      case "drop":
        this.#kill(connection, fault.kind);
        return;
      case "blackhole":
        return;
      case "lose-response":
        if (this.#cutsLeft > 0) connection.awaitingAnswer = true;
        connection.upstream?.write(chunk);
        return;
    }
  }

  #fromServer(connection: Connection, chunk: Buffer): void {
    // An answer begins: counted; the fault it releases meets the next request's bytes.
    if (connection.requestOpen && this.#pending) this.#pending.answersLeft -= 1;
    connection.requestOpen = false;
    const fault = this.#fault;
    if (connection.awaitingAnswer) {
      // The answer to a request sent under lose-response: never forwarded; the connection is cut
      // once the server has had time to finish (HTTP/2 sends control frames before the answer).
      if (!connection.cutScheduled) {
        connection.cutScheduled = true;
        const settleMs = fault.kind === "lose-response" ? (fault.settleMs ?? 100) : 100;
        setTimeout(() => {
          this.lostResponses += 1;
          this.#cutsLeft -= 1;
          if (this.#cutsLeft <= 0 && this.#fault.kind === "lose-response") this.#fault = { kind: "pass" };
          this.#kill(connection, "reset");
        }, settleMs);
      }
      return;
    }
    switch (fault.kind) {
      case "pass":
      case "lose-response":
        connection.client.write(chunk);
        return;
      case "delay":
        this.#later(fault.ms, () => connection.client.write(chunk));
        return;
      case "reset":
      case "drop":
        this.#kill(connection, fault.kind);
        return;
      case "blackhole":
        return;
    }
  }

  /** Runs `write` `ms` from now; chunks keep their order because every chunk waits the same. */
  #later(ms: number, write: () => void): void {
    setTimeout(write, ms);
  }

  #kill(connection: Connection, how: "reset" | "drop"): void {
    this.#connections.delete(connection);
    if (how === "reset") connection.client.resetAndDestroy();
    else connection.client.destroy();
    connection.upstream?.destroy();
  }
}
