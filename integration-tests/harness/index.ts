/**
 * The integration harness: installs (once, then from the cache), starts, waits for and stops
 * the servers the tests need. `npm run servers:start` and the vitest global setup both use it.
 * A server that cannot be installed or started fails the run with the reason; nothing is
 * skipped.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "./cache.js";
import { serverDefinition, serverDefinitions } from "./definitions.js";
import { isAlive, startProcess, stopProcess, waitUntilReady } from "./process.js";

const integrationDir = join(import.meta.dirname, "..");
/** Ready `SecretStore.create` configs keyed by provider, for tests and for people. */
export const SERVERS_FILE = join(integrationDir, ".servers.json");
/** Process ids of servers started in the background, for `servers:stop`. */
export const STATE_FILE = join(integrationDir, ".servers.state.json");

export interface RunningServer {
  readonly provider: string;
  readonly config: Record<string, unknown>;
  /** Absent for a server someone else runs. */
  readonly pid?: number;
  readonly logFile?: string;
  readonly installMs: number;
  readonly startMs: number;
}

/**
 * The servers to start: `OMNISECRET_TEST_SERVERS` (comma-separated), else every defined one but
 * the opt-in servers whose variable is not set.
 */
export function requestedProviders(env: NodeJS.ProcessEnv = process.env): string[] {
  const requested = env.OMNISECRET_TEST_SERVERS?.split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  if (requested && requested.length > 0) return requested;
  return serverDefinitions
    .filter((definition) => definition.enabledBy === undefined || Boolean(env[definition.enabledBy]))
    .map((definition) => definition.provider);
}

export async function startServer(
  provider: string,
  options: { detached?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const definition = serverDefinition(provider);
  const external = definition.external(env);
  if (external) return { provider, config: external, installMs: 0, startMs: 0 };

  const installStart = performance.now();
  let executable: string;
  try {
    executable = await definition.install(env);
  } catch (error) {
    throw new Error(`could not install the ${provider} test server (${definition.description})`, { cause: error });
  }
  const installMs = performance.now() - installStart;

  const startStart = performance.now();
  const launch = await definition.launch(executable, env);
  const logFile = join(cacheDir(env), "logs", `${provider}-${process.pid}-${Date.now()}.log`);
  const started = startProcess(launch.command, launch.args, {
    env: { ...env, ...launch.env },
    logFile,
    detached: options.detached ?? false,
  });
  try {
    await waitUntilReady(provider, launch.isReady, started, launch.readyTimeoutMs ?? 60_000);
    await launch.prepare?.();
  } catch (error) {
    await stopProcess(started.pid);
    throw error;
  }
  return {
    provider,
    config: launch.config,
    pid: started.pid,
    logFile,
    installMs,
    startMs: performance.now() - startStart,
  };
}

export async function startServers(
  providers: readonly string[],
  options: { detached?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningServer[]> {
  // One after another: installs compete for two cores, and a failure stops the rest early.
  const running: RunningServer[] = [];
  try {
    for (const provider of providers) running.push(await startServer(provider, options));
  } catch (error) {
    await stopServers(running);
    throw error;
  }
  return running;
}

export async function stopServers(servers: readonly RunningServer[]): Promise<void> {
  await Promise.all(servers.map((server) => (server.pid === undefined ? undefined : stopProcess(server.pid))));
}

export function writeServersFiles(servers: readonly RunningServer[]): void {
  const configs = Object.fromEntries(servers.map((server) => [server.provider, server.config]));
  writeFileSync(SERVERS_FILE, `${JSON.stringify(configs, null, 2)}\n`);
  const state = servers.map(({ provider, pid, logFile }) => ({ provider, pid, logFile }));
  writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
}

/** Servers started earlier by `servers:start` that are still running, with their configs. */
export function backgroundServers(): RunningServer[] {
  if (!existsSync(SERVERS_FILE) || !existsSync(STATE_FILE)) return [];
  try {
    const configs = JSON.parse(readFileSync(SERVERS_FILE, "utf8")) as Record<string, Record<string, unknown>>;
    const state = JSON.parse(readFileSync(STATE_FILE, "utf8")) as {
      provider: string;
      pid?: number;
      logFile?: string;
    }[];
    return state.flatMap((entry) => {
      const config = configs[entry.provider];
      if (!config || (entry.pid !== undefined && !isAlive(entry.pid))) return [];
      return [{ ...entry, config, installMs: 0, startMs: 0 }];
    });
  } catch {
    return [];
  }
}

export async function stopBackgroundServers(): Promise<string[]> {
  const servers = backgroundServers();
  await stopServers(servers);
  rmSync(SERVERS_FILE, { force: true });
  rmSync(STATE_FILE, { force: true });
  return servers.map((server) => server.provider);
}
