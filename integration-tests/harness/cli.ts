/**
 * `npm run servers:start -- <provider...>` starts test servers in the background and writes a
 * ready config for each into integration-tests/.servers.json; `npm run servers:stop` stops them.
 */
import { requestedProviders, SERVERS_FILE, startServers, stopBackgroundServers, writeServersFiles } from "./index.js";

const [command, ...providers] = process.argv.slice(2);

if (command === "start") {
  await stopBackgroundServers();
  const started = await startServers(providers.length > 0 ? providers : requestedProviders(), { detached: true });
  writeServersFiles(started);
  for (const server of started) {
    const where = server.pid === undefined ? "external server" : `pid ${server.pid}, log ${server.logFile}`;
    console.log(
      `${server.provider}: ready (${where}; install ${Math.round(server.installMs)} ms, start ${Math.round(server.startMs)} ms)`,
    );
  }
  console.log(`configs written to ${SERVERS_FILE}`);
} else if (command === "stop") {
  const stopped = await stopBackgroundServers();
  console.log(stopped.length > 0 ? `stopped: ${stopped.join(", ")}` : "no background servers were running");
} else {
  console.error("usage: servers:start [provider...] | servers:stop");
  process.exitCode = 2;
}
