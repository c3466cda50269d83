/** Starting, watching and stopping server processes for the harness. */
import { execFile, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const repositoryRoot = join(import.meta.dirname, "..", "..");

/** Runs `integration-tests/servers/<script>` (a path such as `vault/install.sh`) and returns the path it prints last; its progress goes to stderr. */
export async function runInstallScript(script: string, env: NodeJS.ProcessEnv): Promise<string> {
  const path = join(repositoryRoot, "integration-tests", "servers", script);
  return new Promise((resolvePath, reject) => {
    const child = execFile("bash", [path], { env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => {
      if (error) {
        reject(new Error(`${script} failed (exit code ${String(error.code)}); its output is above`, { cause: error }));
        return;
      }
      const last = stdout.trim().split("\n").pop()?.trim();
      if (!last || !existsSync(last)) {
        reject(new Error(`${script} did not print the path of an installed file (got ${JSON.stringify(last)})`));
        return;
      }
      resolvePath(last);
    });
    child.stderr?.pipe(process.stderr);
  });
}

export interface StartedProcess {
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process exits. */
  readonly exited: Promise<number | null>;
}

/**
 * Starts a server in its own process group with its output in `logFile`. With `detached`, it
 * outlives this process (for `npm run servers:start`).
 */
export function startProcess(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; logFile: string; cwd?: string; detached?: boolean },
): StartedProcess {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const log = openSync(options.logFile, "w");
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", log, log],
    detached: true,
  });
  closeSync(log);
  if (options.detached) child.unref();
  const exited = new Promise<number | null>((resolveExit) => {
    child.on("exit", (code) => resolveExit(code));
    child.on("error", () => resolveExit(-1));
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return { pid: child.pid, logFile: options.logFile, exited };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the process group, then SIGKILL if it is still there after `graceMs`. */
export async function stopProcess(pid: number, graceMs = 5_000): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name);
    } catch {
      try {
        process.kill(pid, name);
      } catch {
        // Already gone.
      }
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) signal("SIGKILL");
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Polls `check` until it returns true; fails early if the process exits, or at the timeout. */
export async function waitUntilReady(
  name: string,
  check: () => Promise<boolean>,
  started: StartedProcess | undefined,
  timeoutMs: number,
): Promise<void> {
  let exitCode: number | null | undefined;
  void started?.exited.then((code) => {
    exitCode = code;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(
        `${name} server exited with code ${String(exitCode)} before it was ready; the end of ${started?.logFile}:\n${tail(started?.logFile ?? "")}`,
      );
    }
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(
    `${name} server did not answer within ${timeoutMs} ms${started ? `; the end of ${started.logFile}:\n${tail(started.logFile)}` : ""}`,
  );
}

/** Whether something accepts TCP connections on host:port. */
export function isPortOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolveOpen) => {
    const socket = createConnection({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolveOpen(true);
    });
    socket.once("error", () => resolveOpen(false));
  });
}

/** A free TCP port on loopback, chosen by the kernel. */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Fails with advice when a fixed port is taken, instead of letting the server die with a bind error. */
export async function assertPortFree(port: number, provider: string, variable: string): Promise<void> {
  if (await isPortOpen(port)) {
    throw new Error(
      `port ${port} on 127.0.0.1 is already in use, so the ${provider} test server cannot start there. ` +
        `Stop whatever listens on it, choose another port with ${variable}, or point the tests at a server you run yourself (see localstack/README.md).`,
    );
  }
}
