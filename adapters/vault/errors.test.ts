import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import * as v from "valibot";
import { describe, expect, it, vi } from "vitest";
import { SecretStore } from "../../src/secret-store.js";
import { markedSecretValue } from "../../src/testing/index.js";
import { isUnsupportedPath, toVaultRequestError } from "./errors.js";
import { VaultAdapter } from "./index.js";
import { vaultOptionsSchema } from "./options.js";

/** An error as node-vault rejects with for an HTTP answer. */
function answered(statusCode: number, errors: string[] = []) {
  return Object.assign(new Error(errors[0] ?? `Status ${statusCode}`), { response: { statusCode, body: { errors } } });
}

/** A node-vault client whose every request fails with `error`. */
function failingClient(error: unknown) {
  const fail = vi.fn(async (..._request: unknown[]): Promise<unknown> => Promise.reject(error));
  const client: Record<string, unknown> & { calls: typeof fail; read: typeof fail } = {
    read: fail,
    write: fail,
    delete: fail,
    list: fail,
    token: "t",
    calls: fail,
  };
  return client;
}

function storeWith(client: ReturnType<typeof failingClient>, extra: Record<string, unknown> = {}) {
  const options = v.parse(vaultOptionsSchema, { provider: "vault", client, maxAttempts: 3, ...extra });
  return SecretStore.fromAdapter(new VaultAdapter(options, { prefix: "omnisecret" }));
}

describe("Vault error mapping", () => {
  it.each([
    [404, "E_SECRET_NOT_FOUND", 1],
    [403, "E_PERMISSION_DENIED", 1],
    [429, "E_PROVIDER_UNAVAILABLE", 3],
    [500, "E_PROVIDER_UNAVAILABLE", 3],
    [503, "E_PROVIDER_UNAVAILABLE", 3],
  ])("maps HTTP %i to %s after %i attempt(s)", async (status, code, attempts) => {
    const client = failingClient(answered(status, status === 503 ? ["Vault is sealed"] : []));
    const id = randomUUID();
    await expect(storeWith(client).getSecretValues(id)).rejects.toMatchObject({
      code,
      provider: "vault",
      secretId: id,
    });
    expect(client.calls).toHaveBeenCalledTimes(attempts);
  });

  it("maps a check-and-set mismatch on store to already exists", async () => {
    const client = failingClient(answered(400, ["check-and-set parameter did not match the current version"]));
    client.read = vi.fn(async () => ({
      data: { current_version: 1, versions: { "1": { deletion_time: "", destroyed: false } } },
    }));
    await expect(storeWith(client).storeSecretValues(randomUUID(), { a: "b" })).rejects.toMatchObject({
      code: "E_SECRET_EXISTS",
    });
  });

  it("keeps no request body in the cause of a network failure, which for a write holds the values", async () => {
    const secret = markedSecretValue();
    // axios attaches the request config, body included, to its errors.
    const networkError = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8200"), {
      code: "ECONNREFUSED",
      config: { data: JSON.stringify({ data: { password: secret } }) },
    });
    const error = await storeWith(failingClient(networkError))
      .storeSecretValues(randomUUID(), { password: secret })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    expect(inspect(error, { depth: 20 })).not.toContain(secret);
    expect((error as Error).cause).toMatchObject({ name: "VaultRequestError", code: "ECONNREFUSED" });
  });

  it("validates its options", () => {
    expect(v.safeParse(vaultOptionsSchema, { provider: "vault", mount: "/bad//mount" }).success).toBe(false);
    expect(v.safeParse(vaultOptionsSchema, { provider: "vault", keepVersions: 0 }).success).toBe(false);
    expect(v.parse(vaultOptionsSchema, { provider: "vault" })).toMatchObject({
      address: "http://127.0.0.1:8200",
      mount: "secret",
      keepVersions: 1,
      maxValueBytes: 65_536,
    });
  });
});

describe("isUnsupportedPath: a server without detailed-metadata, told from an empty folder (issue 21)", () => {
  const answer = (statusCode: number, body: Record<string, unknown>) =>
    toVaultRequestError(Object.assign(new Error("x"), { response: { statusCode, body } }));

  it("takes Vault's and OpenBao's answer to a KV v2 path they do not know, and a 405, as unsupported", () => {
    const warning =
      "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use.";
    expect(isUnsupportedPath(answer(404, { data: null, warnings: [warning] }))).toBe(true);
    expect(isUnsupportedPath(answer(404, { errors: ["1 error occurred:\n\t* unsupported path\n\n"] }))).toBe(true);
    expect(isUnsupportedPath(answer(405, { errors: ["unsupported operation"] }))).toBe(true);
  });

  it("takes the 404 of an empty folder, and other statuses, as supported", () => {
    expect(isUnsupportedPath(answer(404, { errors: [] }))).toBe(false);
    expect(isUnsupportedPath(answer(403, { errors: ["permission denied"] }))).toBe(false);
    expect(isUnsupportedPath(answer(500, { warnings: ["Invalid path"] }))).toBe(false);
  });
});
