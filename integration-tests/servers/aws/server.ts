import { join } from "node:path";
import type { ServerDefinition } from "../../harness/definitions.js";
import { assertPortFree, runInstallScript } from "../../harness/process.js";

const AWS_TEST_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };
const REGION = "us-east-1";

/**
 * LocalStack 4.14.0 in host mode, from PyPI (no Docker, no auth token): install-localstack.sh
 * puts it in a venv in the cache and warms its service catalog once; run-localstack.sh starts it
 * on 127.0.0.1 only, Secrets Manager only, with its DNS server, analytics and downloads off, in a
 * folder of its own under the cache that goes when it stops.
 */
export const awsServer: ServerDefinition = {
  provider: "aws",
  description: "LocalStack 4.14.0 (host mode, Secrets Manager only)",
  external(env) {
    const endpoint = env.OMNISECRET_TEST_AWS_ENDPOINT;
    if (!endpoint) return undefined;
    return { provider: "aws", region: REGION, endpoint, credentials: AWS_TEST_CREDENTIALS };
  },
  install: (env) => runInstallScript("aws/install-localstack.sh", env),
  async launch(python, env) {
    const port = Number(env.OMNISECRET_TEST_AWS_PORT ?? 4566);
    await assertPortFree(port, "aws", "OMNISECRET_TEST_AWS_PORT");
    const endpoint = `http://127.0.0.1:${port}`;
    return {
      command: "bash",
      args: [join(import.meta.dirname, "run-localstack.sh"), python, String(port)],
      // Ready once the health check lists Secrets Manager and a real call answers, so that the
      // first test does not pay for LocalStack loading the service.
      async isReady() {
        const health = (await (await fetch(`${endpoint}/_localstack/health`)).json()) as {
          services?: Record<string, string>;
        };
        const state = health.services?.secretsmanager;
        if (state !== "available" && state !== "running") return false;
        const { ListSecretsCommand, SecretsManagerClient } = await import("@aws-sdk/client-secrets-manager");
        const client = new SecretsManagerClient({
          region: REGION,
          endpoint,
          credentials: { ...AWS_TEST_CREDENTIALS },
          maxAttempts: 1,
        });
        try {
          await client.send(new ListSecretsCommand({ MaxResults: 1 }), { abortSignal: AbortSignal.timeout(30_000) });
          return true;
        } finally {
          client.destroy();
        }
      },
      config: { provider: "aws", region: REGION, endpoint, credentials: AWS_TEST_CREDENTIALS },
      // About 2 s on an idle machine; Python's start-up and the first call take many more on a
      // loaded one.
      readyTimeoutMs: 120_000,
    };
  },
};
