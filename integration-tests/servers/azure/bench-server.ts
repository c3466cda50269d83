/**
 * How `npm run bench` sets up the project's Key Vault test server. The server shows a deleted
 * secret only after `deleteDelayMs`, so that the tests' pollers really poll; in the bench both
 * sides would spend that wait asleep on every delete (about 0.5 s each, most of a run's time)
 * and measure the server's timer rather than the client. The bench sets it to 0. An external
 * vault (OMNISECRET_TEST_AZURE_VAULT_URL) is left as it is.
 */
import { readFileSync } from "node:fs";
import { createControlClient } from "./keyvault/control-client.js";
import { TEST_SERVER_TIMINGS, testServerInfo } from "./server.js";

export async function prepareAzureBenchServer(config: Record<string, unknown>): Promise<void> {
  const info = testServerInfo(config);
  if (!info || typeof config.caCertFile !== "string") return;
  await createControlClient(info, readFileSync(config.caCertFile, "utf8")).configure({ deleteDelayMs: 0 });
}

/** Puts back the deletion delay the tests start the server with, as others' tests may share the server. */
export async function restoreAzureBenchServer(config: Record<string, unknown>): Promise<void> {
  const info = testServerInfo(config);
  if (!info || typeof config.caCertFile !== "string") return;
  await createControlClient(info, readFileSync(config.caCertFile, "utf8")).configure({
    deleteDelayMs: TEST_SERVER_TIMINGS.deleteDelayMs,
  });
}
