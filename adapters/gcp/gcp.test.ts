/**
 * The GCP adapter against an in-memory Secret Manager (a fake client implementing the methods
 * the adapter calls, with paging, version states, etags and CRC32C like the real API). It proves
 * what the emulator of the integration tests cannot: version pruning (the emulator answers
 * UNIMPLEMENTED for ListSecretVersions and Destroy/DisableSecretVersion), paging (the emulator
 * pages in random order), checksums (it neither checks nor returns them), and error mapping.
 */
import { randomUUID } from "node:crypto";
import type { SecretManagerServiceClient } from "@google-cloud/secret-manager";
import { describe, expect, it } from "vitest";
import { configFromSources, resolveConfig } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";
import { SecretStore } from "../../src/secret-store.js";
import { testSecretsAdapter } from "../../src/testing/index.js";
import { expectConfigError } from "../../test-support/expect-config-error.js";
import { failuresOfGetUpdateDelete } from "../../test-support/failures.js";
import { crc32c } from "./crc32c.js";
import { Status } from "./errors.js";
import { GcpSecretsAdapter } from "./index.js";
import { type GcpOptions, gcpOptionsSchema } from "./options.js";

type Labels = Record<string, string>;
interface FakeVersion {
  state: "ENABLED" | "DISABLED" | "DESTROYED";
  data?: Buffer;
  crc?: number;
}
interface FakeSecret {
  labels: Labels;
  replication: unknown;
  etag: string;
  next: number;
  versions: Map<number, FakeVersion>;
}

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

/** An in-memory Secret Manager with the request and response shapes of the SDK (promise style). */
class FakeSecretManager {
  readonly secrets = new Map<string, FakeSecret>();
  readonly calls: { method: string; request: Record<string, unknown> }[] = [];
  /** Replace a method's behaviour for one test; return undefined to run the normal one. */
  readonly hooks: Record<string, (request: Record<string, unknown>) => Promise<unknown> | undefined> = {};
  /** What accessSecretVersion returns as `dataCrc32c`. */
  checksumForm: "string" | "number" | "long" | "absent" = "string";
  #etags = 0;

  async #call<T>(method: string, request: Record<string, unknown>, run: () => T): Promise<T> {
    this.calls.push({ method, request });
    await Promise.resolve(); // let other requests interleave, as on a network
    const hooked = this.hooks[method]?.(request);
    if (hooked !== undefined) return (await hooked) as T;
    return run();
  }

  #secret(name: string): FakeSecret {
    const secret = this.secrets.get(name);
    if (!secret) throw grpcError(Status.NOT_FOUND, `Secret [${name}] not found`);
    return secret;
  }

  #view(name: string, secret: FakeSecret) {
    return { name, labels: { ...secret.labels }, replication: secret.replication, etag: secret.etag };
  }

  #version(name: string): { secret: FakeSecret; number: number; version: FakeVersion } {
    const [secretName, id] = name.split("/versions/") as [string, string];
    const secret = this.#secret(secretName);
    let number = Number(id);
    if (id === "latest") {
      number = Math.max(0, ...[...secret.versions].filter(([, v]) => v.state === "ENABLED").map(([n]) => n));
    }
    const version = secret.versions.get(number);
    if (!version) throw grpcError(Status.NOT_FOUND, `Secret Version [${name}] not found`);
    return { secret, number, version };
  }

  createSecret(request: { parent: string; secretId: string; secret: { labels?: Labels; replication?: unknown } }) {
    return this.#call("createSecret", request, () => {
      const name = `${request.parent}/secrets/${request.secretId}`;
      if (this.secrets.has(name)) throw grpcError(Status.ALREADY_EXISTS, `Secret [${name}] already exists`);
      const secret: FakeSecret = {
        labels: { ...request.secret.labels },
        replication: request.secret.replication,
        etag: `"e${++this.#etags}"`,
        next: 1,
        versions: new Map(),
      };
      this.secrets.set(name, secret);
      return [this.#view(name, secret), undefined, undefined];
    });
  }

  addSecretVersion(request: { parent: string; payload: { data: Buffer; dataCrc32c?: number } }) {
    return this.#call("addSecretVersion", request, () => {
      const secret = this.#secret(request.parent);
      const { data, dataCrc32c } = request.payload;
      if (dataCrc32c !== undefined && dataCrc32c !== crc32c(data)) {
        throw grpcError(Status.INVALID_ARGUMENT, "Checksum mismatch");
      }
      const number = secret.next++;
      secret.versions.set(number, { state: "ENABLED", data: Buffer.from(data), crc: crc32c(data) });
      return [{ name: `${request.parent}/versions/${number}`, state: "ENABLED" }, undefined, undefined];
    });
  }

  getSecret(request: { name: string }) {
    return this.#call("getSecret", request, () => [
      this.#view(request.name, this.#secret(request.name)),
      undefined,
      undefined,
    ]);
  }

  getSecretVersion(request: { name: string }) {
    return this.#call("getSecretVersion", request, () => {
      const { number, version } = this.#version(request.name);
      const secretName = request.name.split("/versions/")[0];
      return [{ name: `${secretName}/versions/${number}`, state: version.state }, undefined, undefined];
    });
  }

  accessSecretVersion(request: { name: string }) {
    return this.#call("accessSecretVersion", request, () => {
      const { version } = this.#version(request.name);
      if (version.state !== "ENABLED") throw grpcError(Status.FAILED_PRECONDITION, `is in ${version.state} state`);
      const crc = version.crc as number;
      const dataCrc32c = {
        string: String(crc),
        number: crc,
        long: { low: crc | 0, high: 0, unsigned: false, toString: () => String(crc) },
        absent: undefined,
      }[this.checksumForm];
      return [{ name: request.name, payload: { data: Buffer.from(version.data as Buffer), dataCrc32c } }];
    });
  }

  deleteSecret(request: { name: string; etag?: string }) {
    return this.#call("deleteSecret", request, () => {
      const secret = this.#secret(request.name);
      if (request.etag && request.etag !== secret.etag) throw grpcError(Status.FAILED_PRECONDITION, "etag mismatch");
      this.secrets.delete(request.name);
      return [{}, undefined, undefined];
    });
  }

  listSecrets(request: { parent: string; filter?: string; pageSize?: number; pageToken?: string }) {
    return this.#call("listSecrets", request, () => {
      // Like the emulator, the filter is ignored: the adapter must check labels itself.
      const names = [...this.secrets.keys()].filter((name) => name.startsWith(`${request.parent}/secrets/`)).sort();
      const start = Number(request.pageToken ?? 0);
      const end = start + (request.pageSize ?? 100);
      const page = names.slice(start, end).map((name) => this.#view(name, this.#secret(name)));
      return [page, null, { secrets: page, nextPageToken: end < names.length ? String(end) : "" }];
    });
  }

  listSecretVersions(request: { parent: string; filter?: string; pageSize?: number; pageToken?: string }) {
    return this.#call("listSecretVersions", request, () => {
      const secret = this.#secret(request.parent);
      const all = [...secret.versions]
        .filter(([, version]) => request.filter !== "state:ENABLED" || version.state === "ENABLED")
        .map(([number, version]) => ({ name: `${request.parent}/versions/${number}`, state: version.state }))
        .reverse();
      const start = Number(request.pageToken ?? 0);
      const end = start + (request.pageSize ?? 100);
      return [all.slice(start, end), null, { nextPageToken: end < all.length ? String(end) : "" }];
    });
  }

  destroySecretVersion(request: { name: string }) {
    return this.#call("destroySecretVersion", request, () => {
      const { version } = this.#version(request.name);
      if (version.state === "DESTROYED") throw grpcError(Status.FAILED_PRECONDITION, "already destroyed");
      version.state = "DESTROYED";
      delete version.data;
      return [{ name: request.name, state: "DESTROYED" }, undefined, undefined];
    });
  }

  disableSecretVersion(request: { name: string }) {
    return this.#call("disableSecretVersion", request, () => {
      const { version } = this.#version(request.name);
      if (version.state === "DESTROYED") throw grpcError(Status.FAILED_PRECONDITION, "destroyed");
      version.state = "DISABLED";
      return [{ name: request.name, state: "DISABLED" }, undefined, undefined];
    });
  }

  async close(): Promise<void> {}

  /** Version states of a secret, oldest first. */
  states(name: string): string[] {
    return [...this.#secret(name).versions.values()].map((version) => version.state);
  }

  asClient(): SecretManagerServiceClient {
    return this as unknown as SecretManagerServiceClient;
  }
}

const PROJECT = "fake-project";

function adapterOn(
  fake: FakeSecretManager,
  options: Partial<GcpOptions> = {},
  prefix = `u-${randomUUID().slice(0, 8)}`,
) {
  const parsed = gcpOptionsSchema.parse({ provider: "gcp", projectId: PROJECT, client: fake.asClient(), ...options });
  return new GcpSecretsAdapter(parsed, { prefix });
}

function storeOn(fake: FakeSecretManager, options: Partial<GcpOptions> = {}, prefix?: string) {
  const adapter = adapterOn(fake, options, prefix);
  return { adapter, store: SecretStore.fromAdapter(adapter, { prefix: prefix ?? "" }) };
}

describe("crc32c", () => {
  it("computes the standard check values", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
  });
});

describe("gcp options", () => {
  it("requires a project id and names the field", async () => {
    const error = await expectConfigError(() => resolveConfig({ provider: "gcp" }));
    expect(error.field).toBe("projectId");
    expect(error.message).toContain("GOOGLE_CLOUD_PROJECT");
  });

  it("reads the project from OMNISECRET_GCP_PROJECT_ID, then GOOGLE_CLOUD_PROJECT, then GCLOUD_PROJECT", async () => {
    const fromEnv = (env: NodeJS.ProcessEnv) => configFromSources({ env: { OMNISECRET_PROVIDER: "gcp", ...env } });
    expect(fromEnv({ GCLOUD_PROJECT: "gcloud-one" }).projectId).toBe("gcloud-one");
    expect(fromEnv({ GCLOUD_PROJECT: "gcloud-one", GOOGLE_CLOUD_PROJECT: "google-one" }).projectId).toBe("google-one");
    expect(fromEnv({ GOOGLE_CLOUD_PROJECT: "google-one", OMNISECRET_GCP_PROJECT_ID: "own-one" }).projectId).toBe(
      "own-one",
    );
    const config = fromEnv({
      GOOGLE_CLOUD_PROJECT: "p-1",
      OMNISECRET_GCP_API_ENDPOINT: "127.0.0.1",
      OMNISECRET_GCP_PORT: "8085",
      OMNISECRET_GCP_PLAINTEXT: "true",
      OMNISECRET_GCP_REPLICATION: '{"userManaged":{"locations":["us-east1"]}}',
      OMNISECRET_GCP_PRUNE_ACTION: "disable",
      OMNISECRET_GCP_KEEP_VERSIONS: "2",
    });
    expect((await resolveConfig(config)).config).toMatchObject({
      projectId: "p-1",
      apiEndpoint: "127.0.0.1",
      port: 8085,
      plaintext: true,
      replication: { userManaged: { locations: ["us-east1"] } },
      pruneAction: "disable",
      keepVersions: 2,
    });
  });

  it("has defaults: automatic replication, owner default, destroy all but the newest version", async () => {
    expect((await resolveConfig({ provider: "gcp", projectId: "p-1" })).config).toMatchObject({
      owner: "default",
      replication: "automatic",
      keepVersions: 1,
      pruneAction: "destroy",
      listPageSize: 100,
      maxAttempts: 3,
      plaintext: false,
      halfCreatedGraceMs: 10_000,
    });
  });

  it("allows plaintext to loopback only, unless forced", async () => {
    for (const apiEndpoint of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) {
      expect(
        (await resolveConfig({ provider: "gcp", projectId: "p-1", apiEndpoint, plaintext: true })).config,
      ).toMatchObject({
        plaintext: true,
      });
    }
    for (const apiEndpoint of ["10.0.0.5", "emulator.internal", "secretmanager.googleapis.com", "128.0.0.1"]) {
      const error = await expectConfigError(() =>
        resolveConfig({ provider: "gcp", projectId: "p-1", apiEndpoint, plaintext: true }),
      );
      expect(error.field).toBe("plaintext");
      expect(error.message).toContain("allowPlaintextRemote");
    }
    expect(
      (await expectConfigError(() => resolveConfig({ provider: "gcp", projectId: "p-1", plaintext: true }))).field,
    ).toBe("plaintext");
    expect(
      (
        await resolveConfig({
          provider: "gcp",
          projectId: "p-1",
          apiEndpoint: "10.0.0.5",
          plaintext: true,
          allowPlaintextRemote: true,
        })
      ).config,
    ).toMatchObject({ allowPlaintextRemote: true });
  });

  it("rejects bad owners, endpoints, replication and pruning settings", async () => {
    const bad: Record<string, unknown>[] = [
      { owner: "Upper" },
      { owner: "x".repeat(64) },
      { owner: "a:b" },
      { apiEndpoint: "http://127.0.0.1" },
      { apiEndpoint: "127.0.0.1:8085" },
      { port: 0 },
      { replication: "manual" },
      { replication: { userManaged: { locations: [] } } },
      { replication: { userManaged: { locations: ["us-east1", "us-east1"] } } },
      { keepVersions: 0 },
      { pruneAction: "delete" },
      { listPageSize: 25_001 },
      { projectId: "projects/p-1" },
      { client: {} },
    ];
    for (const fields of bad) {
      await expect(
        resolveConfig({ provider: "gcp", projectId: "p-1", ...fields }),
        JSON.stringify(fields),
      ).rejects.toThrow(ConfigError);
    }
  });
});

describe("gcp adapter with an in-memory Secret Manager", () => {
  const shared = new FakeSecretManager();
  // Pruning on (destroy, keep 1), as against Google itself.
  testSecretsAdapter("gcp (in-memory Secret Manager)", {
    createAdapter: ({ prefix }) => adapterOn(shared, { halfCreatedGraceMs: 2_000 }, prefix),
  });

  it("names and labels the secret and sends the payload with its CRC32C", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, { owner: "server-42" }, "app");
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin" });
    const name = `projects/${PROJECT}/secrets/app-${id}`;
    expect(adapter.nameOf(id)).toBe(name);
    expect(fake.secrets.get(name)?.labels).toEqual({
      "managed-by": "omnisecret",
      "omnisecret-owner": "server-42",
      "omnisecret-id": id,
    });
    expect(fake.secrets.get(name)?.replication).toEqual({ automatic: {} });
    const add = fake.calls.find((call) => call.method === "addSecretVersion")?.request as {
      payload: { data: Buffer; dataCrc32c: number };
    };
    expect(add.payload.data.toString("utf8")).toBe('{"user":"admin"}');
    expect(add.payload.dataCrc32c).toBe(crc32c(Buffer.from('{"user":"admin"}')));
  });

  it("creates user-managed replicas when configured", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, {
      replication: { userManaged: { locations: ["us-east1", "europe-west1"] } },
    });
    const id = randomUUID();
    await store.storeSecretValues(id, {});
    expect(fake.secrets.get(adapter.nameOf(id))?.replication).toEqual({
      userManaged: { replicas: [{ location: "us-east1" }, { location: "europe-west1" }] },
    });
  });

  it.each([1, 3])("after N+2 updates only N versions are enabled (N = %i), the newest readable", async (keep) => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, { keepVersions: keep });
    const id = randomUUID();
    await store.storeSecretValues(id, { generation: "0" });
    for (let generation = 1; generation <= keep + 2; generation += 1) {
      await store.updateSecretValues(id, { generation: String(generation) });
    }
    const states = fake.states(adapter.nameOf(id));
    expect(states).toHaveLength(keep + 3);
    expect(states.filter((state) => state === "ENABLED")).toHaveLength(keep);
    expect(states.slice(-keep).every((state) => state === "ENABLED")).toBe(true);
    expect(states.slice(0, -keep).every((state) => state === "DESTROYED")).toBe(true);
    expect(await store.getSecretValues(id)).toEqual({ generation: String(keep + 2) });
    const list = fake.calls.find((call) => call.method === "listSecretVersions")?.request;
    expect(list?.filter).toBe("state:ENABLED");
  });

  it("disables instead of destroying with pruneAction disable, and leaves every version with none", async () => {
    const fake = new FakeSecretManager();
    const disabling = storeOn(fake, { pruneAction: "disable", keepVersions: 2 });
    const keeping = storeOn(fake, { pruneAction: "none" });
    const [a, b] = [randomUUID(), randomUUID()];
    await disabling.store.storeSecretValues(a, { v: "0" });
    await keeping.store.storeSecretValues(b, { v: "0" });
    for (let v = 1; v <= 4; v += 1) {
      await disabling.store.updateSecretValues(a, { v: String(v) });
      await keeping.store.updateSecretValues(b, { v: String(v) });
    }
    expect(fake.states(disabling.adapter.nameOf(a))).toEqual([
      "DISABLED",
      "DISABLED",
      "DISABLED",
      "ENABLED",
      "ENABLED",
    ]);
    expect(fake.states(keeping.adapter.nameOf(b))).toEqual(Array(5).fill("ENABLED"));
    expect(
      fake.calls.filter((call) => call.request.parent === keeping.adapter.nameOf(b)).map((c) => c.method),
    ).not.toContain("listSecretVersions");
  });

  it("prunes correctly while updates race, never touching the newest version", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake);
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "0" });
    await Promise.all(Array.from({ length: 8 }, (_, index) => store.updateSecretValues(id, { v: String(index + 1) })));
    const states = fake.states(adapter.nameOf(id));
    expect(states.filter((state) => state === "ENABLED")).toHaveLength(1);
    expect(states.at(-1)).toBe("ENABLED");
  });

  it("reports a server that cannot prune, saying the update itself was made", async () => {
    const fake = new FakeSecretManager();
    fake.hooks.listSecretVersions = () =>
      Promise.reject(grpcError(Status.UNIMPLEMENTED, "ListSecretVersions is not implemented in mock"));
    const { store } = storeOn(fake);
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    const error = await store.updateSecretValues(id, { v: "2" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_UNKNOWN", provider: "gcp", secretId: id });
    expect((error as Error).message).toContain("was updated");
    expect((error as Error).message).toContain('pruneAction to "none"');
    expect(await store.getSecretValues(id)).toEqual({ v: "2" });

    fake.hooks.listSecretVersions = () => Promise.reject(grpcError(Status.PERMISSION_DENIED, "denied"));
    await expect(store.updateSecretValues(id, { v: "3" })).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
  });

  it("leaves nothing behind when addSecretVersion fails after createSecret, and the id can be stored afterwards", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake);
    const id = randomUUID();
    fake.hooks.addSecretVersion = () => Promise.reject(grpcError(Status.PERMISSION_DENIED, "denied"));
    await expect(store.storeSecretValues(id, { a: "1" })).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
    expect(fake.secrets.has(adapter.nameOf(id))).toBe(false);
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    delete fake.hooks.addSecretVersion;
    await store.storeSecretValues(id, { a: "2" });
    expect(await store.getSecretValues(id)).toEqual({ a: "2" });
  });

  it("treats a half-made leftover as missing, and a later store replaces it after the grace period", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, { halfCreatedGraceMs: 300 });
    const id = randomUUID();
    // What a process that died between CreateSecret and AddSecretVersion leaves behind.
    fake.hooks.addSecretVersion = () => Promise.reject(grpcError(Status.UNAVAILABLE, "gone"));
    fake.hooks.deleteSecret = () => Promise.reject(grpcError(Status.UNAVAILABLE, "gone"));
    await expect(store.storeSecretValues(id, { a: "1" })).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    delete fake.hooks.addSecretVersion;
    delete fake.hooks.deleteSecret;
    expect(fake.secrets.has(adapter.nameOf(id))).toBe(true);

    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { a: "x" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(fake.states(adapter.nameOf(id))).toEqual([]);

    const started = performance.now();
    await store.storeSecretValues(id, { a: "2" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(await store.getSecretValues(id)).toEqual({ a: "2" });
  });

  it("does not break a store that is between its two requests", async () => {
    const fake = new FakeSecretManager();
    const { store } = storeOn(fake, { halfCreatedGraceMs: 5_000 });
    const id = randomUUID();
    let releaseAdd: () => void = () => undefined;
    const addMayRun = new Promise<void>((resolve) => {
      releaseAdd = resolve;
    });
    const add = fake.addSecretVersion.bind(fake);
    let first = true;
    fake.addSecretVersion = async (request) => {
      if (first) {
        first = false;
        await addMayRun;
      }
      return add(request);
    };
    const slow = store.storeSecretValues(id, { writer: "slow" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = store.storeSecretValues(id, { writer: "second" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    releaseAdd();
    await slow;
    await expect(second).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    expect(await store.getSecretValues(id)).toEqual({ writer: "slow" });
  });

  it("never reads, changes or deletes a secret without omnisecret's labels, and does not list it", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, { halfCreatedGraceMs: 0 });
    const id = randomUUID();
    const name = adapter.nameOf(id);
    await fake.createSecret({ parent: `projects/${PROJECT}`, secretId: name.split("/").pop() as string, secret: {} });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { a: "b" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.storeSecretValues(id, { a: "b" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    const listed: string[] = [];
    for await (const listedId of store.listSecretIds()) listed.push(listedId);
    expect(listed).toEqual([]);
    expect(fake.secrets.has(name)).toBe(true);
    // Only its metadata was read: no value accessed, no version added, nothing deleted.
    const touching = fake.calls.filter((call) => String(call.request.name ?? call.request.parent).startsWith(name));
    expect(new Set(touching.map((call) => call.method))).toEqual(new Set(["getSecret"]));
  });

  it("rejects a payload whose CRC32C does not match, accepting the checksum as string, number or Long", async () => {
    const fake = new FakeSecretManager();
    const { store } = storeOn(fake);
    const id = randomUUID();
    await store.storeSecretValues(id, { secret: "value" });
    for (const form of ["string", "number", "long", "absent"] as const) {
      fake.checksumForm = form;
      expect(await store.getSecretValues(id)).toEqual({ secret: "value" });
    }
    fake.checksumForm = "string";
    const original = fake.accessSecretVersion.bind(fake);
    fake.accessSecretVersion = async (request) => {
      const responses = await original(request);
      for (const response of responses) response.payload.data[2] = 0x58; // one byte flipped in transit or at rest
      return responses;
    };
    const error = await store.getSecretValues(id).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_SECRET_INTEGRITY", provider: "gcp", secretId: id });
    expect((error as Error).message).toContain("CRC32C");
    expect((error as Error).message).not.toContain("value");
  });

  it("lists every id across several pages, each once, and only its own", async () => {
    const fake = new FakeSecretManager();
    const { store } = storeOn(fake, { listPageSize: 2 }, "paged");
    const other = storeOn(fake, {}, "paged-other");
    const otherOwner = storeOn(fake, { owner: "team-b" }, "paged");
    const ids = Array.from({ length: 7 }, () => randomUUID());
    for (const id of ids) await store.storeSecretValues(id, { id });
    await other.store.storeSecretValues(randomUUID(), {});
    await otherOwner.store.storeSecretValues(randomUUID(), {});
    const listed: string[] = [];
    for await (const id of store.listSecretIds()) listed.push(id);
    expect(listed.sort()).toEqual([...ids].sort());
    const pages = fake.calls.filter((call) => call.method === "listSecrets");
    expect(pages.length).toBeGreaterThanOrEqual(5);
    expect(pages[0]?.request).toMatchObject({
      parent: `projects/${PROJECT}`,
      pageSize: 2,
      filter: 'labels.managed-by="omnisecret" AND labels.omnisecret-owner="default"',
    });
    expect(pages[1]?.request.pageToken).toBe("2");
  });

  it("deletes with the etag, and checks the labels again when the secret changed in between", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake);
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "1" });
    const name = adapter.nameOf(id);
    // Between GetSecret and DeleteSecret, the secret is replaced by a foreign one.
    let replaced = false;
    fake.hooks.deleteSecret = () => {
      if (replaced) return undefined;
      replaced = true;
      fake.secrets.set(name, { labels: {}, replication: {}, etag: '"foreign"', next: 1, versions: new Map() });
      return undefined;
    };
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(fake.secrets.get(name)?.etag).toBe('"foreign"');
    const deletes = fake.calls.filter((call) => call.method === "deleteSecret");
    expect(deletes[0]?.request.etag).toMatch(/^"e\d+"$/);
  });
});

describe("gcp error mapping", () => {
  /** A store whose client fails every request with `error`. */
  function failingStore(error: unknown, extra: Partial<GcpOptions> = {}) {
    const fake = new FakeSecretManager();
    for (const method of [
      "createSecret",
      "addSecretVersion",
      "getSecret",
      "getSecretVersion",
      "accessSecretVersion",
      "deleteSecret",
      "listSecrets",
    ]) {
      fake.hooks[method] = () => Promise.reject(error);
    }
    return { fake, ...storeOn(fake, { maxAttempts: 2, ...extra }) };
  }

  it.each([
    [Status.NOT_FOUND, "E_SECRET_NOT_FOUND"],
    [Status.FAILED_PRECONDITION, "E_SECRET_NOT_FOUND"],
    [Status.PERMISSION_DENIED, "E_PERMISSION_DENIED"],
    [Status.UNAUTHENTICATED, "E_PERMISSION_DENIED"],
    [Status.RESOURCE_EXHAUSTED, "E_PROVIDER_UNAVAILABLE"],
    [Status.UNAVAILABLE, "E_PROVIDER_UNAVAILABLE"],
    [Status.DEADLINE_EXCEEDED, "E_PROVIDER_UNAVAILABLE"],
    [Status.DATA_LOSS, "E_SECRET_INTEGRITY"],
    [Status.INVALID_ARGUMENT, "E_UNKNOWN"],
    [Status.UNIMPLEMENTED, "E_UNKNOWN"],
  ])("maps gRPC code %i to %s on get, update and delete", async (code, expected) => {
    const error = grpcError(code, "simulated");
    const { store } = failingStore(error);
    for (const caught of await failuresOfGetUpdateDelete(store)) {
      expect(caught).toMatchObject({ code: expected, provider: "gcp" });
      expect((caught as Error).cause).toBe(error);
    }
  });

  it("maps store failures, and ALREADY_EXISTS of a secret with a version to E_SECRET_EXISTS", async () => {
    await expect(
      failingStore(grpcError(Status.PERMISSION_DENIED, "no")).store.storeSecretValues(randomUUID(), {}),
    ).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
    await expect(
      failingStore(grpcError(Status.RESOURCE_EXHAUSTED, "quota")).store.storeSecretValues(randomUUID(), {}),
    ).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
  });

  it("retries reads on UNAVAILABLE up to maxAttempts, and never retries a create on it", async () => {
    const { fake, store } = failingStore(grpcError(Status.UNAVAILABLE, "down"), { maxAttempts: 3 });
    await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    expect(fake.calls.filter((call) => call.method === "getSecret")).toHaveLength(3);
    await expect(store.storeSecretValues(randomUUID(), {})).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    expect(fake.calls.filter((call) => call.method === "createSecret")).toHaveLength(1);
  });

  it("maps a list failure", async () => {
    const { store } = failingStore(grpcError(Status.PERMISSION_DENIED, "no"));
    await expect(async () => {
      for await (const _ of store.listSecretIds()) break;
    }).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
  });

  it("turns missing credentials into a ConfigError, without an unhandled rejection from the SDK", async () => {
    const fake = new FakeSecretManager();
    let initializations = 0;
    Object.assign(fake, {
      initialize: () => {
        initializations += 1;
        return Promise.reject(new Error("Could not load the default credentials. Browse to ..."));
      },
    });
    const { store } = storeOn(fake);
    await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_CONFIG", field: "credentials" });
    await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_CONFIG" });
    expect(fake.calls).toEqual([]);
    expect(initializations).toBe(2);
  });
});
