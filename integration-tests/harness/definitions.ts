/**
 * The servers the integration tests run against, one per provider: how to install each from
 * the package registries, start it on loopback, tell that it answers, and configure
 * `SecretStore.create` for it. Each is defined in `integration-tests/servers/<provider>/server.ts`
 * and registered in `integration-tests/servers/index.ts`.
 */
import { providerTestSides } from "../servers/index.js";

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
  /**
   * An opt-in server (a second server of a provider, slow to build): started only when this
   * variable is set, or when named in OMNISECRET_TEST_SERVERS. Its tests are skipped without it.
   */
  readonly enabledBy?: string;
  /** The config of a server run by someone else (LocalStack in Docker, say), named by env; then nothing is installed or started. */
  external(env: NodeJS.ProcessEnv): Record<string, unknown> | undefined;
  /** Installs the server (or finds it in the cache) and returns the path of its executable. */
  install(env: NodeJS.ProcessEnv): Promise<string>;
  launch(executable: string, env: NodeJS.ProcessEnv): Promise<Launch>;
}

export const serverDefinitions: readonly ServerDefinition[] = providerTestSides.flatMap((side) => [
  ...(side.server ? [side.server] : []),
  ...(side.optInServers ?? []),
]);

export function serverDefinition(provider: string): ServerDefinition {
  const definition = serverDefinitions.find((candidate) => candidate.provider === provider);
  if (!definition) {
    throw new Error(
      `no test server is defined for provider "${provider}"; known: ${serverDefinitions.map((d) => d.provider).join(", ")}`,
    );
  }
  return definition;
}
