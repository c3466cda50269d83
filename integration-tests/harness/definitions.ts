/**
 * The servers the integration tests run against, one per provider: how to install each from
 * the package registries, start it on loopback, tell that it answers, and configure
 * `SecretStore.create` for it. A provider's server is added here and nowhere else.
 */
import { isPortOpen, runInstallScript } from "./process.js";

export interface Launch {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** True once the server answers requests. */
  isReady(): Promise<boolean>;
  /** One-time setup after the server answers (mounts, roles). */
  prepare?(): Promise<void>;
  /** A ready `SecretStore.create` config for this server. */
  readonly config: Record<string, unknown>;
  /** @default 60000 */
  readonly readyTimeoutMs?: number;
}

export interface ServerDefinition {
  readonly provider: string;
  /** What the server is, for messages. */
  readonly description: string;
  /** The config of a server run by someone else (LocalStack in Docker, say), named by env; then nothing is installed or started. */
  external(env: NodeJS.ProcessEnv): Record<string, unknown> | undefined;
  /** Installs the server (or finds it in the cache) and returns the path of its executable. */
  install(env: NodeJS.ProcessEnv): Promise<string>;
  launch(executable: string, env: NodeJS.ProcessEnv): Promise<Launch>;
}

async function assertPortFree(port: number, provider: string, variable: string): Promise<void> {
  if (await isPortOpen(port)) {
    throw new Error(
      `port ${port} on 127.0.0.1 is already in use, so the ${provider} test server cannot start there. ` +
        `Stop whatever listens on it, choose another port with ${variable}, or point the tests at a server you run yourself (see localstack/README.md).`,
    );
  }
}

const AWS_TEST_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

export const awsServer: ServerDefinition = {
  provider: "aws",
  description: "moto's server (the LocalStack Secrets Manager API)",
  external(env) {
    const endpoint = env.OMNISECRET_TEST_AWS_ENDPOINT;
    if (!endpoint) return undefined;
    return { provider: "aws", region: "us-east-1", endpoint, credentials: AWS_TEST_CREDENTIALS };
  },
  install: (env) => runInstallScript("install-moto.sh", env),
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

export const serverDefinitions: readonly ServerDefinition[] = [awsServer];

export function serverDefinition(provider: string): ServerDefinition {
  const definition = serverDefinitions.find((candidate) => candidate.provider === provider);
  if (!definition) {
    throw new Error(
      `no test server is defined for provider "${provider}"; known: ${serverDefinitions.map((d) => d.provider).join(", ")}`,
    );
  }
  return definition;
}
