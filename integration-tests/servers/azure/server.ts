/**
 * The project's own Key Vault test server (`keyvault/`), run as a process by the harness, or a
 * Key Vault someone else runs (Lowkey Vault in Docker, say) named by OMNISECRET_TEST_AZURE_VAULT_URL,
 * with OMNISECRET_TEST_AZURE_CA_FILE, OMNISECRET_TEST_AZURE_DELETE_POLICY and
 * OMNISECRET_TEST_AZURE_SERVICE_VERSION (else OMNISECRET_AZURE_SERVICE_VERSION) for its config.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import https from "node:https";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cacheDir } from "../../harness/cache.js";
import type { ServerDefinition } from "../../harness/definitions.js";
import { freePort } from "../../harness/process.js";
import type { KeyVaultServerDescription } from "./keyvault/server.js";

const MAIN = join(import.meta.dirname, "keyvault", "main.ts");

/**
 * The server's delays, short so the tests stay quick but long enough that the SDK's delete and
 * recover pollers really poll, and a store after a purge really meets the 409 window.
 */
export const TEST_SERVER_TIMINGS = { deleteDelayMs: 300, recoverDelayMs: 300, purgeDelayMs: 1_500 };

/** The description of the project's test server behind a config, or undefined for an external vault. */
export function testServerInfo(config: Record<string, unknown>): KeyVaultServerDescription | undefined {
  const caCertFile = config.caCertFile;
  if (typeof caCertFile !== "string") return undefined;
  const infoFile = join(caCertFile, "..", "server.json");
  if (!existsSync(infoFile)) return undefined;
  // main.ts writes the server's description there.
  return JSON.parse(readFileSync(infoFile, "utf8")) as KeyVaultServerDescription;
}

/** GET `<vaultUrl>/_control/health`, trusting the server's CA only. */
function healthy(vaultUrl: string, caCertFile: string): Promise<boolean> {
  if (!existsSync(caCertFile)) return Promise.resolve(false);
  const ca = readFileSync(caCertFile, "utf8");
  return new Promise((resolve) => {
    const request = https.get(`${vaultUrl}/_control/health`, { ca }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on("error", () => resolve(false));
  });
}

export const azureServer: ServerDefinition = {
  provider: "azure",
  description: "the project's Key Vault test server (integration-tests/servers/azure/keyvault)",
  external(env) {
    const vaultUrl = env.OMNISECRET_TEST_AZURE_VAULT_URL;
    if (!vaultUrl) return undefined;
    const caCertFile = env.OMNISECRET_TEST_AZURE_CA_FILE;
    // Lowkey Vault needs an older api-version for a list beyond one page ("7.6" or "2025-07-01").
    const serviceVersion = env.OMNISECRET_TEST_AZURE_SERVICE_VERSION || env.OMNISECRET_AZURE_SERVICE_VERSION;
    // Credentials come from the usual AZURE_* / IDENTITY_* variables, through DefaultAzureCredential.
    return {
      provider: "azure",
      vaultUrl,
      ...(caCertFile ? { caCertFile } : {}),
      disableChallengeResourceVerification: !new URL(vaultUrl).hostname.endsWith(".vault.azure.net"),
      ...(env.OMNISECRET_TEST_AZURE_DELETE_POLICY ? { deletePolicy: env.OMNISECRET_TEST_AZURE_DELETE_POLICY } : {}),
      ...(serviceVersion ? { serviceVersion } : {}),
    };
  },
  // Nothing to install: the server is TypeScript in this repository, run by Node through tsx.
  async install() {
    if (!existsSync(MAIN)) throw new Error(`the Key Vault test server is missing: ${MAIN}`);
    return MAIN;
  },
  async launch(main, env) {
    const port = await freePort();
    const identityPort = await freePort();
    const stateDir = join(cacheDir(env), "azure", `${process.pid}-${Date.now()}`);
    mkdirSync(stateDir, { recursive: true });
    const tenantId = randomUUID();
    const clientId = randomUUID();
    // A secret of this one test server only, never of a real tenant.
    const clientSecret = `test-${randomBytes(18).toString("base64url")}`;
    const vaultUrl = `https://127.0.0.1:${port}`;
    const caCertFile = join(stateDir, "ca.pem");
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    return {
      command: process.execPath,
      args: [
        "--import",
        tsx,
        main,
        `--port=${port}`,
        `--identity-port=${identityPort}`,
        `--state-dir=${stateDir}`,
        `--info-file=${join(stateDir, "server.json")}`,
        `--tenant-id=${tenantId}`,
        `--client-id=${clientId}`,
        `--client-secret=${clientSecret}`,
        `--delete-delay-ms=${TEST_SERVER_TIMINGS.deleteDelayMs}`,
        `--recover-delay-ms=${TEST_SERVER_TIMINGS.recoverDelayMs}`,
        `--purge-delay-ms=${TEST_SERVER_TIMINGS.purgeDelayMs}`,
      ],
      isReady: async () => existsSync(join(stateDir, "server.json")) && (await healthy(vaultUrl, caCertFile)),
      readyTimeoutMs: 30_000,
      config: {
        provider: "azure",
        vaultUrl,
        caCertFile,
        // The challenge names https://vault.azure.net, which 127.0.0.1 is not under.
        disableChallengeResourceVerification: true,
        credential: { tenantId, clientId, clientSecret, authorityHost: vaultUrl },
      },
    };
  },
};
