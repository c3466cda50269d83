/**
 * The test side of every built-in provider, registered once: the server its integration tests
 * run against and the raw SDK side of `npm run bench`. Each lives in `integration-tests/servers/<provider>/`
 * beside the provider's integration tests, so a newcomer finds all of a provider's test code in one
 * folder. `src/providers.test.ts` fails when a provider of `src/providers.ts` is missing here.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import type { RawFactory } from "../../bench/lib/side.js";
import type { ServerDefinition } from "../harness/definitions.js";
import { awsServer } from "./aws/server.js";
import { azureServer } from "./azure/server.js";
import { gcpServer } from "./gcp/server.js";
import { hashicorpVaultServer, vaultServer } from "./vault/server.js";

export interface ProviderTestSide {
  readonly provider: string;
  /** The server the integration tests start; absent for the stores embedded in the process. */
  readonly server?: ServerDefinition;
  /** Other servers of the provider, started only when asked for (see `ServerDefinition.enabledBy`). */
  readonly optInServers?: readonly ServerDefinition[];
  /**
   * Loads the plain-SDK side of `npm run bench`; lazily, so starting servers loads no SDK.
   * Absent only where there is no SDK to compare with (the memory store).
   */
  readonly loadBenchRaw?: () => Promise<RawFactory>;
  /**
   * The environment of a server of its own that the scale workload (`npm run bench -- --scale`)
   * starts for this provider instead of reusing the shared test server: for a server whose test
   * setup would measure its own storage rather than the provider (vault: Raft, see its server.ts).
   */
  readonly scaleServerEnv?: Readonly<Record<string, string>>;
  /**
   * For a store inside the process (no server): a config of its own, its files in `directory`,
   * for each side of `npm run bench` (so neither side reads through the other's files). A store
   * served by a server uses that server's config for both sides.
   */
  readonly benchConfig?: (directory: string) => Record<string, unknown>;
  /**
   * Makes bench/lib/counters.ts count this provider's requests where they are not HTTP (gRPC
   * calls, SQL statements); HTTP is counted for every provider already.
   */
  readonly countRequests?: () => void | Promise<void>;
  /** Adjusts the test server for `npm run bench` (a server-side wait both sides would only sleep through). */
  readonly prepareBenchServer?: (config: Record<string, unknown>) => Promise<void>;
  /**
   * A config that builds a store without contacting anything (no request is sent until the
   * first operation), so a unit test can check in a fresh process what selecting the provider
   * loads. Omit `provider`; a store that keeps a file keeps it in `directory`, a scratch folder.
   */
  readonly offlineConfig: (directory: string) => Record<string, unknown>;
}

export const providerTestSides: readonly ProviderTestSide[] = [
  {
    provider: "local",
    loadBenchRaw: async () => (await import("./local/bench-raw.js")).createRawLocal,
    offlineConfig: (directory) => ({ path: join(directory, `local-${randomUUID()}.db`) }),
    benchConfig: (directory) => ({
      path: join(directory, `bench-${randomUUID()}.db`),
      // Given, so the raw side (which has no key file of its own) encrypts with a key too.
      key: randomBytes(32).toString("base64"),
    }),
    countRequests: async () => (await import("../../bench/lib/counters.js")).countSqliteStatements(),
  },
  { provider: "memory", offlineConfig: () => ({}) },
  {
    provider: "aws",
    server: awsServer,
    loadBenchRaw: async () => (await import("./aws/bench-raw.js")).createRawAws,
    offlineConfig: () => ({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }),
  },
  {
    provider: "vault",
    server: vaultServer,
    optInServers: [hashicorpVaultServer],
    loadBenchRaw: async () => (await import("./vault/bench-raw.js")).createRawVault,
    scaleServerEnv: { OMNISECRET_TEST_VAULT_STORAGE: "raft" },
    offlineConfig: () => ({ token: "offline" }),
  },
  {
    provider: "gcp",
    server: gcpServer,
    loadBenchRaw: async () => (await import("./gcp/bench-raw.js")).createRawGcp,
    countRequests: async () => (await import("../../bench/lib/counters.js")).countGrpcCalls(),
    offlineConfig: () => ({
      projectId: "offline-project",
      credentials: { client_email: "x@y", private_key: "unused" },
    }),
  },
  {
    provider: "azure",
    server: azureServer,
    loadBenchRaw: async () => (await import("./azure/bench-raw.js")).createRawAzure,
    prepareBenchServer: async (config) => (await import("./azure/bench-server.js")).prepareAzureBenchServer(config),
    offlineConfig: () => ({
      vaultUrl: "https://offline.vault.azure.net",
      credential: { tenantId: "offline", clientId: "offline", clientSecret: "unused" },
    }),
  },
];

/**
 * The config one side of `npm run bench` uses: for a store inside the process, one of its own
 * (`benchConfig`, its files in `scratch`); for a server, `shared`, the server's.
 */
export function benchSideConfig<Shared>(
  provider: string,
  scratch: string,
  shared: Shared,
): Record<string, unknown> | Shared {
  const side = providerTestSides.find((candidate) => candidate.provider === provider);
  return side?.benchConfig ? { ...side.benchConfig(scratch), provider } : shared;
}
