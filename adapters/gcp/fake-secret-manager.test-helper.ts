/**
 * An in-memory Secret Manager for the GCP adapter's unit tests: a fake client implementing the
 * methods the adapter calls, with paging, version states, etags and CRC32C like the real API.
 * It proves what the emulator of the integration tests cannot: version pruning (the emulator
 * answers UNIMPLEMENTED for Destroy/DisableSecretVersion and UpdateSecret), paging (the emulator
 * pages in random order) and checksums (it neither checks nor returns them). `latest` is the most
 * recently created version, whatever its state, as Google documents it (the emulator takes the
 * highest enabled one instead). ListSecretVersions answers newest first, destroyed versions
 * included, as Google documents it (the emulator answers UNIMPLEMENTED), so versioned reads are
 * proven here.
 */
import { randomUUID } from "node:crypto";
import type { SecretManagerServiceClient } from "@google-cloud/secret-manager";
import * as v from "valibot";
import { SecretStore } from "../../src/secret-store.js";
import { crc32c } from "./crc32c.js";
import { Status } from "./errors.js";
import { GcpSecretsAdapter } from "./index.js";
import { type GcpOptions, gcpOptionsSchema } from "./options.js";

type Labels = Record<string, string>;
interface FakeVersion {
  state: "ENABLED" | "DISABLED" | "DESTROYED";
  createTime: { seconds: string; nanos: number };
  data?: Buffer;
  crc?: number;
}
interface FakeSecret {
  labels: Labels;
  replication: unknown;
  createTime: { seconds: string; nanos: number };
  etag: string;
  next: number;
  versions: Map<number, FakeVersion>;
}

export function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

/** An in-memory Secret Manager with the request and response shapes of the SDK (promise style). */
export class FakeSecretManager {
  readonly secrets = new Map<string, FakeSecret>();
  readonly calls: { method: string; request: Record<string, unknown> }[] = [];
  /** Replace a method's behaviour for one test; return undefined to run the normal one. */
  readonly hooks: Record<string, (request: Record<string, unknown>) => Promise<unknown> | undefined> = {};
  /** What accessSecretVersion returns as `dataCrc32c`. */
  checksumForm: "string" | "number" | "long" | "absent" = "string";
  #etags = 0;
  #clock = 1_700_000_000;

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
    return {
      name,
      labels: { ...secret.labels },
      replication: secret.replication,
      createTime: { ...secret.createTime },
      etag: secret.etag,
    };
  }

  #version(name: string): { secret: FakeSecret; number: number; version: FakeVersion } {
    const [secretName, id] = name.split("/versions/") as [string, string];
    const secret = this.#secret(secretName);
    let number = Number(id);
    // The most recently created version, whatever its state.
    if (id === "latest") number = Math.max(0, ...secret.versions.keys());
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
        createTime: { seconds: String(++this.#clock), nanos: 0 },
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
      const createTime = { seconds: String(++this.#clock), nanos: 0 };
      secret.versions.set(number, { state: "ENABLED", createTime, data: Buffer.from(data), crc: crc32c(data) });
      return [{ name: `${request.parent}/versions/${number}`, createTime, state: "ENABLED" }, undefined, undefined];
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
      const secretName = request.name.split("/versions/")[0] as string;
      return [this.#versionView(secretName, number, version), undefined, undefined];
    });
  }

  #versionView(secretName: string, number: number, version: FakeVersion) {
    return { name: `${secretName}/versions/${number}`, createTime: { ...version.createTime }, state: version.state };
  }

  /** Newest first (by createTime, as Google sorts them), destroyed versions included; the filter is ignored. */
  listSecretVersions(request: { parent: string; pageSize?: number; pageToken?: string; filter?: string }) {
    return this.#call("listSecretVersions", request, () => {
      const secret = this.#secret(request.parent);
      const all = [...secret.versions.entries()]
        .sort(([a], [b]) => b - a)
        .map(([number, version]) => this.#versionView(request.parent, number, version));
      const start = Number(request.pageToken ?? 0);
      const end = start + (request.pageSize || 25_000);
      const page = all.slice(start, end);
      const nextPageToken = end < all.length ? String(end) : "";
      return [page, null, { versions: page, nextPageToken, totalSize: all.length }];
    });
  }

  accessSecretVersion(request: { name: string }) {
    return this.#call("accessSecretVersion", request, () => {
      const { number, version } = this.#version(request.name);
      if (version.state !== "ENABLED") throw grpcError(Status.FAILED_PRECONDITION, `is in ${version.state} state`);
      const crc = version.crc as number;
      const dataCrc32c = {
        string: String(crc),
        number: crc,
        long: { low: crc | 0, high: 0, unsigned: false, toString: () => String(crc) },
        absent: undefined,
      }[this.checksumForm];
      const name = `${request.name.split("/versions/")[0]}/versions/${number}`;
      return [{ name, payload: { data: Buffer.from(version.data as Buffer), dataCrc32c } }];
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

export const PROJECT = "fake-project";

export function adapterOn(
  fake: FakeSecretManager,
  options: Partial<GcpOptions> = {},
  prefix = `u-${randomUUID().slice(0, 8)}`,
) {
  const parsed = v.parse(gcpOptionsSchema, {
    provider: "gcp",
    projectId: PROJECT,
    client: fake.asClient(),
    ...options,
  });
  return new GcpSecretsAdapter(parsed, { prefix });
}

export function storeOn(fake: FakeSecretManager, options: Partial<GcpOptions> = {}, prefix?: string) {
  const adapter = adapterOn(fake, options, prefix);
  return { adapter, store: SecretStore.fromAdapter(adapter, { prefix: prefix ?? "" }) };
}
