/**
 * Runs the Key Vault test server as its own process until SIGTERM or SIGINT:
 *
 *   node --import tsx integration-tests/servers/azure/keyvault/main.ts \
 *     --port 0 --identity-port 0 --state-dir <dir> [--info-file <dir>/server.json]
 *
 * When listening, it writes the KeyVaultServerDescription (plus `pid`) as JSON to the info file,
 * atomically and with mode 0600 since it holds the test client secret, and prints the same JSON on
 * stdout with the client secret and identity header left out.
 */
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type KeyVaultServerOptions, startKeyVaultServer } from "./server.js";

const usage = `usage: main.ts --state-dir <dir> [--port <n>] [--identity-port <n>] [--info-file <path>]
  [--tenant-id <id>] [--client-id <id>] [--client-secret <s>] [--identity-header <s>]
  [--token-lifetime-seconds <n>] [--delete-delay-ms <n>] [--recover-delay-ms <n>] [--purge-delay-ms <n>]
  [--purge-protected]`;

function integer(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer\n${usage}`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      "identity-port": { type: "string" },
      "state-dir": { type: "string" },
      "info-file": { type: "string" },
      "tenant-id": { type: "string" },
      "client-id": { type: "string" },
      "client-secret": { type: "string" },
      "identity-header": { type: "string" },
      "token-lifetime-seconds": { type: "string" },
      "delete-delay-ms": { type: "string" },
      "recover-delay-ms": { type: "string" },
      "purge-delay-ms": { type: "string" },
      "purge-protected": { type: "boolean" },
    },
    strict: true,
  });
  const stateDir = values["state-dir"];
  if (!stateDir) throw new Error(`--state-dir is required\n${usage}`);
  const infoFile = values["info-file"] ?? join(stateDir, "server.json");

  const options: KeyVaultServerOptions = { stateDir };
  const set = <K extends keyof KeyVaultServerOptions>(key: K, value: KeyVaultServerOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set("port", integer("port", values.port));
  set("identityPort", integer("identity-port", values["identity-port"]));
  set("tenantId", values["tenant-id"]);
  set("clientId", values["client-id"]);
  set("clientSecret", values["client-secret"]);
  set("identityHeader", values["identity-header"]);
  set("tokenLifetimeSeconds", integer("token-lifetime-seconds", values["token-lifetime-seconds"]));
  set("deleteDelayMs", integer("delete-delay-ms", values["delete-delay-ms"]));
  set("recoverDelayMs", integer("recover-delay-ms", values["recover-delay-ms"]));
  set("purgeDelayMs", integer("purge-delay-ms", values["purge-delay-ms"]));
  set("purgeProtected", values["purge-protected"]);

  const server = await startKeyVaultServer(options);
  const description = { ...server.describe(), pid: process.pid };
  // Written beside the target and renamed, so a harness polling for the file never reads half of it.
  const partial = `${infoFile}.${process.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify(description, null, 2)}\n`, { mode: 0o600 });
  await rename(partial, infoFile);
  console.log(JSON.stringify({ ...description, clientSecret: undefined, identityHeader: undefined, infoFile }));

  let closing = false;
  const stop = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`keyvault test server: close after ${signal} failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
