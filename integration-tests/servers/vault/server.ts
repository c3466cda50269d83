import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ServerDefinition } from "../../harness/definitions.js";
import { assertPortFree, freePort, runInstallScript } from "../../harness/process.js";

/** The dev server's root token: a dev server on loopback, thrown away when the tests end. */
const ROOT_TOKEN = "root";

/**
 * The one-time setup the Vault docs page recommends, `bao write secret/config max_versions=1`:
 * with the mount keeping the one version omnisecret's default `keepVersions` asks for, a store
 * needs no metadata write of its own (see adapters/vault/index.ts). The tests of the other case
 * (a mount that does not keep `keepVersions`) enable mounts of their own, or set keepVersions 3.
 * A KV v2 mount answers 5xx/400 while it finishes its setup in the background, hence the retries.
 */
async function keepOneVersionOnTheDefaultMount(send: RootRequest): Promise<void> {
  let last = "";
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const response = await send("POST", "secret/config", { max_versions: 1 });
    if (response.status >= 200 && response.status < 300) return;
    last = `${response.status} ${response.text}`;
    await sleep(100);
  }
  throw new Error(`could not set max_versions=1 on the dev server's secret/ mount: ${last}`);
}

/** A request to the dev server with its root token. */
type RootRequest = (method: string, path: string, body?: unknown) => Promise<{ status: number; text: string }>;

/** Over plain http: fetch. */
function plainRootRequest(address: string): RootRequest {
  return async (method, path, body) => {
    const response = await fetch(`${address}/v1/${path}`, {
      method,
      headers: { "X-Vault-Token": ROOT_TOKEN, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, text: await response.text() };
  };
}

/** Over https, trusting the dev server's own CA (fetch cannot be given a CA without undici). */
function tlsRootRequest(address: string, caCertFile: string): RootRequest {
  return (method, path, body) =>
    new Promise((resolve, reject) => {
      const sent = request(
        `${address}/v1/${path}`,
        {
          method,
          ca: readFileSync(caCertFile, "utf8"),
          headers: { "X-Vault-Token": ROOT_TOKEN, "Content-Type": "application/json" },
        },
        (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            text += chunk;
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
          response.on("error", reject);
        },
      );
      sent.on("error", reject);
      sent.end(body === undefined ? undefined : JSON.stringify(body));
    });
}

/** What tells the two dev servers apart: the harness's OpenBao, and the opt-in HashiCorp Vault. */
interface DevServerKind {
  readonly name: string;
  readonly description: string;
  readonly installScript: string;
  /** The variable that fixes the port; without it, `defaultPort`, or else a free port. */
  readonly portVariable: string;
  readonly defaultPort?: number;
  readonly enabledBy?: string;
  readonly external?: ServerDefinition["external"];
}

/** A `server -dev` of OpenBao or HashiCorp Vault (same flags, same API), KV v2 at `secret/`. */
function devServer(kind: DevServerKind): ServerDefinition {
  return {
    provider: kind.name,
    description: kind.description,
    ...(kind.enabledBy ? { enabledBy: kind.enabledBy } : {}),
    external: kind.external ?? (() => undefined),
    install: (env) => runInstallScript(kind.installScript, env),
    /**
     * With OMNISECRET_TEST_VAULT_TLS_DIR set, the dev server serves https (`-dev-tls`) with a CA,
     * certificate and key it generates into that folder; the config then names the CA as
     * `caCertFile`. The shared servers are plain http; the TLS tests start their own.
     *
     * With OMNISECRET_TEST_VAULT_STORAGE=raft, the dev server keeps its data in Raft (what
     * production runs on) in a folder of its own, emptied at each start, instead of the dev
     * server's in-memory storage. OpenBao's copies every stored entry into a new tree at the start
     * of each request's transaction (a CPU profile of the dev server under the scale workload: 72%
     * in `TransactionalInmemBackend.BeginTx`, `radix.ToMap`/`NewFromMap`), so there every request
     * costs in proportion to all that the server holds; the scale workload runs on Raft.
     */
    async launch(executable, env) {
      const fixed = env[kind.portVariable] ?? kind.defaultPort;
      const port = fixed === undefined ? await freePort() : Number(fixed);
      if (fixed !== undefined) await assertPortFree(port, kind.name, kind.portVariable);
      const storageArgs = env.OMNISECRET_TEST_VAULT_STORAGE === "raft" ? await raftStorage(kind.name, port) : [];
      const tlsDir = env.OMNISECRET_TEST_VAULT_TLS_DIR;
      const address = `${tlsDir ? "https" : "http"}://127.0.0.1:${port}`;
      const caCertFile = tlsDir ? join(tlsDir, "vault-ca.pem") : undefined;
      const send = caCertFile ? tlsRootRequest(address, caCertFile) : plainRootRequest(address);
      return {
        command: executable,
        args: [
          "server",
          "-dev",
          `-dev-root-token-id=${ROOT_TOKEN}`,
          `-dev-listen-address=127.0.0.1:${port}`,
          // Leave the user's token helper file (~/.vault-token) alone.
          "-dev-no-store-token",
          ...(tlsDir ? ["-dev-tls", `-dev-tls-cert-dir=${tlsDir}`] : []),
          ...storageArgs,
        ],
        // Until the server has written its CA, the https request fails; that is "not ready yet".
        isReady: async () => (await send("GET", "sys/health")).status === 200,
        prepare: () => keepOneVersionOnTheDefaultMount(send),
        config: { provider: "vault", address, token: ROOT_TOKEN, ...(caCertFile ? { caCertFile } : {}) },
      };
    },
  };
}

export const vaultServer = devServer({
  name: "vault",
  description: "an OpenBao dev server (the Vault API), built from the Go module proxy",
  installScript: "vault/install.sh",
  portVariable: "OMNISECRET_TEST_VAULT_PORT",
  defaultPort: 8200,
  external(env) {
    const address = env.OMNISECRET_TEST_VAULT_ADDR;
    if (!address) return undefined;
    return { provider: "vault", address, token: env.OMNISECRET_TEST_VAULT_TOKEN ?? ROOT_TOKEN };
  },
});

/**
 * HashiCorp Vault 1.14.8 (its last MPL release), which has no `detailed-metadata`: the adapter's
 * list fallback against the real thing. Opt-in, as its cold build takes 15-20 minutes; the tests
 * that use it are in hashicorp.test.ts.
 */
export const hashicorpVaultServer = devServer({
  name: "vault-hashicorp",
  description: "a HashiCorp Vault 1.14.8 dev server, built from the Go module proxy",
  installScript: "vault/install-hashicorp.sh",
  portVariable: "OMNISECRET_TEST_VAULT_HASHICORP_PORT",
  enabledBy: "OMNISECRET_TEST_VAULT_HASHICORP",
});

/** `-config` of a Raft storage in `<tmp>/omnisecret-raft/<server>-<port>/`, emptied first (see `launch`). */
async function raftStorage(name: string, port: number): Promise<string[]> {
  const folder = join(tmpdir(), "omnisecret-raft", `${name}-${port}`);
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(join(folder, "data"), { recursive: true });
  const clusterPort = await freePort();
  const file = join(folder, "storage.hcl");
  writeFileSync(
    file,
    [
      `storage "raft" {\n  path = ${JSON.stringify(join(folder, "data"))}\n  node_id = "omnisecret-test"\n}`,
      `cluster_addr = "http://127.0.0.1:${clusterPort}"`,
      `api_addr = "http://127.0.0.1:${port}"`,
      "",
    ].join("\n"),
  );
  return [`-config=${file}`];
}
