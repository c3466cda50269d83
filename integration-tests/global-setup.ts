/**
 * vitest global setup of the integration project: provides a ready config per provider to the
 * tests. It reuses servers started by `npm run servers:start` when they are still running, and
 * otherwise starts its own and stops them afterwards.
 */
import type { TestProject } from "vitest/node";
import {
  backgroundServers,
  type RunningServer,
  requestedProviders,
  startServers,
  stopServers,
} from "./harness/index.js";

declare module "vitest" {
  export interface ProvidedContext {
    servers: Record<string, Record<string, unknown>>;
    /** The process id of each server the harness runs (its process group leader); none for an external server. */
    serverPids: Record<string, number>;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const wanted = requestedProviders();
  const reused = backgroundServers().filter((server) => wanted.includes(server.provider));
  const missing = wanted.filter((provider) => !reused.some((server) => server.provider === provider));
  const started: RunningServer[] = await startServers(missing);
  for (const server of started) {
    const where = server.pid === undefined ? "external" : `pid ${server.pid}`;
    console.log(
      `[harness] ${server.provider} ready (${where}): install ${Math.round(server.installMs)} ms, start ${Math.round(server.startMs)} ms`,
    );
  }
  for (const server of reused) console.log(`[harness] ${server.provider}: reusing the server from servers:start`);
  const running = [...reused, ...started];
  project.provide("servers", Object.fromEntries(running.map((server) => [server.provider, server.config])));
  project.provide(
    "serverPids",
    Object.fromEntries(running.flatMap((server) => (server.pid === undefined ? [] : [[server.provider, server.pid]]))),
  );
  return () => stopServers(started);
}
