/**
 * The test side of every built-in provider, registered once: the server its integration tests
 * run against and the raw SDK side of `npm run bench`. Each lives in `integration-tests/servers/<provider>/`
 * beside the provider's integration tests, so a newcomer finds all of a provider's test code in one
 * folder. `src/providers.test.ts` fails when a provider of `src/providers.ts` is missing here.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import type { Minimums } from "../../bench/lib/minimums.js";
import type { ScaleRawFactory } from "../../bench/lib/scale-raw.js";
import type { RawFactory } from "../../bench/lib/side.js";
import type { ServerDefinition } from "../harness/definitions.js";
import { awsMinimums } from "./aws/minimums.js";
import { awsServer } from "./aws/server.js";
import { azureMinimums } from "./azure/minimums.js";
import { azureServer } from "./azure/server.js";
import { gcpMinimums } from "./gcp/minimums.js";
import { gcpServer } from "./gcp/server.js";
import { localMinimums } from "./local/minimums.js";
import { vaultMinimums } from "./vault/minimums.js";
import { hashicorpVaultServer, vaultServer } from "./vault/server.js";

/** Where a server's config says it listens, and that config pointed at another port of 127.0.0.1 (a fault proxy's). */
export interface ServerEndpoint {
  of(config: Record<string, unknown>): { host: string; port: number };
  through(config: Record<string, unknown>, port: number): Record<string, unknown>;
}

/** The endpoint of a provider whose config names its server by a URL in `field`. */
function urlEndpoint(field: string): ServerEndpoint {
  return {
    of(config) {
      const url = new URL(config[field] as string);
      return { host: url.hostname, port: Number(url.port) };
    },
    through: (config, port) => ({
      ...config,
      [field]: `${new URL(config[field] as string).protocol}//127.0.0.1:${port}`,
    }),
  };
}

export interface ProviderTestSide {
  readonly provider: string;
  /** The server the integration tests start; absent for the stores embedded in the process. */
  readonly server?: ServerDefinition;
  /** Where `server`'s config points, for the fault proxy's tests (set wherever `server` is). */
  readonly endpoint?: ServerEndpoint;
  /** Other servers of the provider, started only when asked for (see `ServerDefinition.enabledBy`). */
  readonly optInServers?: readonly ServerDefinition[];
  /**
   * Loads the plain-SDK side of `npm run bench`; lazily, so starting servers loads no SDK.
   * Absent only where there is no SDK to compare with (the memory store).
   */
  readonly loadBenchRaw?: () => Promise<RawFactory>;
  /**
   * The fewest requests each operation can send on the provider, and why (see
   * bench/lib/minimums.ts): asserted by integration-tests/request-counts.test.ts, reported by the
   * bench. Set wherever `loadBenchRaw` is.
   */
  readonly minimumRequests?: Minimums;
  /**
   * Loads what the scale workload needs beyond the raw side's four operations (its list, what
   * the server lists; see bench/lib/scale-raw.ts); lazily, as `loadBenchRaw`.
   */
  readonly loadScaleRaw?: () => Promise<ScaleRawFactory>;
  /** N of the scale workload for this provider, unless `BENCH_SCALE_N` says otherwise (bench/lib/scale.ts's default otherwise). */
  readonly scaleDefaultN?: number;
  /**
   * The URL of the module that reads one secret with the raw SDK alone for the bench's cold start
   * (it exports `readSecret`; see bench/cold-start/raw.mjs). Plain JavaScript: a fresh `node` runs it.
   */
  readonly coldStartRaw?: string;
  /**
   * The variable that moves the test server's fixed default port: the bench sets it to a free
   * port (unless it is set), so a test run on the default ports at the same time is not disturbed.
   */
  readonly portVariable?: string;
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
  /** Undoes `prepareBenchServer` once the bench is done, as others' tests may share the server. */
  readonly restoreBenchServer?: (config: Record<string, unknown>) => Promise<void>;
  /**
   * A config that builds a store without contacting anything (no request is sent until the
   * first operation), so a unit test can check in a fresh process what selecting the provider
   * loads. Omit `provider`; a store that keeps a file keeps it in `directory`, a scratch folder.
   */
  readonly offlineConfig: (directory: string) => Record<string, unknown>;
}

/** The URL of a test side's file, for what a fresh `node` process loads by itself. */
const here = (path: string) => new URL(path, import.meta.url).href;

export const providerTestSides: readonly ProviderTestSide[] = [
  {
    provider: "local",
    loadBenchRaw: async () => (await import("./local/bench-raw.js")).createRawLocal,
    minimumRequests: localMinimums,
    loadScaleRaw: async () => (await import("./local/scale-raw.js")).createLocalScaleRaw,
    scaleDefaultN: 10_000,
    coldStartRaw: here("./local/cold-start-raw.mjs"),
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
    endpoint: urlEndpoint("endpoint"),
    portVariable: "OMNISECRET_TEST_AWS_PORT",
    loadBenchRaw: async () => (await import("./aws/bench-raw.js")).createRawAws,
    minimumRequests: awsMinimums,
    loadScaleRaw: async () => (await import("./aws/scale-raw.js")).createAwsScaleRaw,
    // The issue asks 10,000; LocalStack 4.14 cannot take it. Its moto store scans every secret on
    // each lookup and is not thread-safe: with 8 creates in flight, the plain SDK (one attempt)
    // saw 1 of the first 2,000 CreateSecret fail with InternalError ("dictionary changed size during
    // iteration", moto/secretsmanager/models.py `__contains__`, still so in moto 5.2.6) and 1,476 of
    // 10,000, each 1,000 creates slower than the last (5.8 s, then 13 s by the 10,000th).
    scaleDefaultN: 2_000,
    coldStartRaw: here("./aws/cold-start-raw.mjs"),
    offlineConfig: () => ({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }),
  },
  {
    provider: "vault",
    server: vaultServer,
    endpoint: urlEndpoint("address"),
    optInServers: [hashicorpVaultServer],
    portVariable: "OMNISECRET_TEST_VAULT_PORT",
    loadBenchRaw: async () => (await import("./vault/bench-raw.js")).createRawVault,
    minimumRequests: vaultMinimums,
    loadScaleRaw: async () => (await import("./vault/scale-raw.js")).createVaultScaleRaw,
    scaleServerEnv: { OMNISECRET_TEST_VAULT_STORAGE: "raft" },
    scaleDefaultN: 10_000,
    coldStartRaw: here("./vault/cold-start-raw.mjs"),
    offlineConfig: () => ({ token: "offline" }),
  },
  {
    provider: "gcp",
    server: gcpServer,
    endpoint: {
      of: (config) => ({ host: config.apiEndpoint as string, port: config.port as number }),
      through: (config, port) => ({ ...config, apiEndpoint: "127.0.0.1", port }),
    },
    loadBenchRaw: async () => (await import("./gcp/bench-raw.js")).createRawGcp,
    minimumRequests: gcpMinimums,
    loadScaleRaw: async () => (await import("./gcp/scale-raw.js")).createGcpScaleRaw,
    // The emulator is slower.
    scaleDefaultN: 2_000,
    coldStartRaw: here("./gcp/cold-start-raw.mjs"),
    countRequests: async () => (await import("../../bench/lib/counters.js")).countGrpcCalls(),
    offlineConfig: () => ({
      projectId: "offline-project",
      credentials: { client_email: "x@y", private_key: "unused" },
    }),
  },
  {
    provider: "azure",
    server: azureServer,
    // TLS passes through the plain TCP proxy unchanged; the certificate names 127.0.0.1 whatever the port.
    endpoint: urlEndpoint("vaultUrl"),
    loadBenchRaw: async () => (await import("./azure/bench-raw.js")).createRawAzure,
    minimumRequests: azureMinimums,
    loadScaleRaw: async () => (await import("./azure/scale-raw.js")).createAzureScaleRaw,
    // The test server is slower.
    scaleDefaultN: 2_000,
    coldStartRaw: here("./azure/cold-start-raw.mjs"),
    prepareBenchServer: async (config) => (await import("./azure/bench-server.js")).prepareAzureBenchServer(config),
    restoreBenchServer: async (config) => (await import("./azure/bench-server.js")).restoreAzureBenchServer(config),
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

/** The endpoint of a server-backed provider's test server; throws for one without (a missing entry above). */
export function serverEndpoint(provider: string): ServerEndpoint {
  const endpoint = providerTestSides.find((side) => side.provider === provider)?.endpoint;
  if (!endpoint) throw new Error(`integration-tests/servers/index.ts: no endpoint for provider ${provider}; add one`);
  return endpoint;
}
