import type { SecretManagerServiceClient } from "@google-cloud/secret-manager";
import type { ServerDefinition } from "../../harness/definitions.js";
import { freePort, runInstallScript } from "../../harness/process.js";

const PROJECT_ID = "omnisecret-test";

/**
 * The config of an emulator. It implements no version management (ListSecretVersions and
 * Destroy/DisableSecretVersion answer UNIMPLEMENTED), so pruning is off; it ignores list filters
 * and pages in random order, so one page must hold the whole project (25,000 is the API's
 * largest page).
 */
function emulatorConfig(host: string, port: number): Record<string, unknown> {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  const loopback = bare === "localhost" || bare === "::1" || bare.startsWith("127.");
  return {
    provider: "gcp",
    projectId: PROJECT_ID,
    apiEndpoint: bare,
    port,
    plaintext: true,
    // Only for an emulator someone else runs on another host, named explicitly by env.
    ...(loopback ? {} : { allowPlaintextRemote: true }),
    pruneAction: "none",
    listPageSize: 25_000,
  };
}

export const gcpServer: ServerDefinition = {
  provider: "gcp",
  description: "the blackwell-systems Secret Manager emulator v0.1.0 (gRPC, in memory)",
  external(env) {
    // host:port of an emulator run by someone else, e.g. 127.0.0.1:9090 or [::1]:9090.
    const endpoint = env.OMNISECRET_TEST_GCP_ENDPOINT;
    if (!endpoint) return undefined;
    const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(endpoint);
    if (!match) throw new Error(`OMNISECRET_TEST_GCP_ENDPOINT must be host:port (got ${JSON.stringify(endpoint)})`);
    return emulatorConfig(match[1] as string, Number(match[2]));
  },
  install: (env) => runInstallScript("gcp/install.sh", env),
  async launch(executable, _env) {
    // The emulator listens on every interface (":PORT"); it has no flag to bind loopback only.
    // The port is free on 127.0.0.1 and the tests only ever talk to 127.0.0.1.
    const port = await freePort();
    let client: SecretManagerServiceClient | undefined;
    return {
      command: executable,
      args: ["--port", String(port)],
      // Ready once a real gRPC call is answered; the SDK is loaded only here, not by every harness run.
      async isReady() {
        if (!client) {
          const [{ SecretManagerServiceClient }, { grpc }] = await Promise.all([
            import("@google-cloud/secret-manager"),
            import("google-gax"),
          ]);
          client = new SecretManagerServiceClient({
            apiEndpoint: "127.0.0.1",
            port,
            sslCreds: grpc.credentials.createInsecure(),
            universeDomain: "googleapis.com",
          });
        }
        try {
          await client.listSecrets(
            { parent: "projects/omnisecret-readiness", pageSize: 1 },
            { autoPaginate: false, timeout: 1_000, retry: null },
          );
        } catch {
          return false;
        }
        await client.close();
        client = undefined;
        return true;
      },
      config: emulatorConfig("127.0.0.1", port),
      readyTimeoutMs: 30_000,
    };
  },
};
