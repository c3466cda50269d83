import type { ServerDefinition } from "../../harness/definitions.js";
import { assertPortFree, runInstallScript } from "../../harness/process.js";

const AWS_TEST_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

export const awsServer: ServerDefinition = {
  provider: "aws",
  description: "moto's server (the LocalStack Secrets Manager API)",
  external(env) {
    const endpoint = env.OMNISECRET_TEST_AWS_ENDPOINT;
    if (!endpoint) return undefined;
    return { provider: "aws", region: "us-east-1", endpoint, credentials: AWS_TEST_CREDENTIALS };
  },
  install: (env) => runInstallScript("aws/install-moto.sh", env),
  async launch(executable, env) {
    const port = Number(env.OMNISECRET_TEST_AWS_PORT ?? 4566);
    await assertPortFree(port, "aws", "OMNISECRET_TEST_AWS_PORT");
    const endpoint = `http://127.0.0.1:${port}`;
    return {
      command: executable,
      args: ["-H", "127.0.0.1", "-p", String(port)],
      isReady: async () => (await fetch(`${endpoint}/moto-api/data.json`)).ok,
      config: { provider: "aws", region: "us-east-1", endpoint, credentials: AWS_TEST_CREDENTIALS },
    };
  },
};
