import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import { describe, expect, it, vi } from "vitest";
import type { LegacySecretsAdapter, SecretValues } from "./contract.js";
import { SecretNotFoundError, SecretStoreError } from "./errors.js";
import { SecretStore } from "./secret-store.js";

/** An adapter of the earlier contract (as a custom module may still be): the facade adapts it. */
function adapterThatThrows(error: unknown): LegacySecretsAdapter {
  const fail = async () => {
    throw error;
  };
  return {
    maxValueBytes: 1000,
    storeSecretValues: vi.fn(fail),
    getSecretValues: vi.fn(fail),
    updateSecretValues: vi.fn(fail),
    deleteSecretValues: vi.fn(fail),
  };
}

describe("SecretStore facade", () => {
  it("validates before calling the adapter, so bad input never reaches a provider", async () => {
    const adapter = adapterThatThrows(new Error("must not be called"));
    const store = SecretStore.fromAdapter(adapter, { provider: "spy" });
    await expect(store.storeSecretValues("nope", { a: "b" })).rejects.toMatchObject({ code: "E_INVALID_SECRET_ID" });
    await expect(store.storeSecretValues(randomUUID(), { a: 1 } as never)).rejects.toMatchObject({
      code: "E_INVALID_SECRET_VALUES",
    });
    await expect(store.updateSecretValues(randomUUID(), { a: "x".repeat(2000) })).rejects.toMatchObject({
      code: "E_SECRET_TOO_LARGE",
      provider: "spy",
    });
    expect(adapter.storeSecretValues).not.toHaveBeenCalled();
    expect(adapter.updateSecretValues).not.toHaveBeenCalled();
  });

  it("passes canonical lowercase ids and the serialised values to the adapter", async () => {
    const adapter = adapterThatThrows(new SecretNotFoundError("x"));
    adapter.storeSecretValues = vi.fn(async () => undefined);
    const store = SecretStore.fromAdapter(adapter);
    const id = randomUUID();
    await store.storeSecretValues(id.toUpperCase(), { b: "2", a: "1" });
    expect(adapter.storeSecretValues).toHaveBeenCalledWith(id, { b: "2", a: "1" }, '{"b":"2","a":"1"}');
  });

  it("fills in the provider of a typed error thrown by an adapter", async () => {
    const store = SecretStore.fromAdapter(adapterThatThrows(new SecretNotFoundError(randomUUID())), {
      provider: "mine",
    });
    await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
      provider: "mine",
    });
  });

  it("wraps an unknown failure with its cause, and cuts the call's values out of the message", async () => {
    const secret = `s3cr3t-${randomUUID()}`;
    const native = new TypeError(`socket hang up while sending ${secret}`);
    const store = SecretStore.fromAdapter(adapterThatThrows(native), { provider: "flaky" });
    const id = randomUUID();
    const error = (await store
      .storeSecretValues(id, { password: secret })
      .catch((e: unknown) => e)) as SecretStoreError;
    expect(error).toBeInstanceOf(SecretStoreError);
    expect(error.code).toBe("E_UNKNOWN");
    expect(error.cause).toMatchObject({ name: "TypeError", message: "socket hang up while sending [redacted]" });
    expect(error.secretId).toBe(id);
    expect(error.message).toContain("TypeError: socket hang up while sending [redacted]");
    expect(error.message).not.toContain(secret);
  });

  it("keeps an adapter's values out of the whole cause chain, as util.inspect prints it (issue 12, item 8)", async () => {
    const secret = `s3cr3t-${randomUUID()}`;
    const inner = Object.assign(new Error(`backend rejected payload {"password":"${secret}"}`), { code: "EREJECTED" });
    const outer = Object.assign(new Error("request failed", { cause: inner }), { statusCode: 500, body: secret });
    const store = SecretStore.fromAdapter(adapterThatThrows(outer), { provider: "leaky" });
    const error = (await store.storeSecretValues(randomUUID(), { password: secret }).catch((e: unknown) => e)) as Error;
    const printed = inspect(error, { depth: 10, showHidden: true });
    expect(printed).not.toContain(secret);
    // What helps to debug it stays: names, codes, statuses and the nested cause's redacted text.
    expect(error.cause).toMatchObject({ statusCode: 500, cause: { code: "EREJECTED" } });
    expect(printed).toContain("backend rejected payload");
  });

  it("refuses lone UTF-16 surrogates in keys and values before the adapter (issue 12, item 6)", async () => {
    const adapter = adapterThatThrows(new Error("must not be called"));
    const store = SecretStore.fromAdapter(adapter);
    const refused: SecretValues[] = [{ k: "a\ud800b" }, { k: "\udfff" }, { "\ud83d": "v" }, { k: "ok", j: "x\ud83d" }];
    for (const values of refused) {
      await expect(store.storeSecretValues(randomUUID(), values)).rejects.toMatchObject({
        code: "E_INVALID_SECRET_VALUES",
      });
      await expect(store.updateSecretValues(randomUUID(), values)).rejects.toMatchObject({
        code: "E_INVALID_SECRET_VALUES",
      });
    }
    expect(adapter.storeSecretValues).not.toHaveBeenCalled();
    expect(adapter.updateSecretValues).not.toHaveBeenCalled();
    // Well-formed pairs, astral characters included, are fine.
    adapter.storeSecretValues = vi.fn(async () => undefined);
    await store.storeSecretValues(randomUUID(), { "emoji 🔐": "𝔘𝔫𝔦 \ud83d\ude00" });
    expect(adapter.storeSecretValues).toHaveBeenCalledTimes(1);
  });

  it("turns a throwing getter or Proxy in the caller's values into E_INVALID_SECRET_VALUES (issue 12, item 8)", async () => {
    const adapter = adapterThatThrows(new Error("must not be called"));
    const store = SecretStore.fromAdapter(adapter);
    const secret = `s3cr3t-${randomUUID()}`;
    const getter = Object.defineProperty({}, "password", {
      enumerable: true,
      get() {
        throw new Error(`getter leaked ${secret}`);
      },
    });
    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new RangeError(`proxy leaked ${secret}`);
        },
      },
    );
    for (const values of [getter, proxy]) {
      const error = (await store.storeSecretValues(randomUUID(), values).catch((e: unknown) => e)) as SecretStoreError;
      expect(error.code).toBe("E_INVALID_SECRET_VALUES");
      expect(inspect(error, { depth: 10 })).not.toContain(secret);
    }
    expect(adapter.storeSecretValues).not.toHaveBeenCalled();
  });

  it("checks what an adapter's get returns (issue 12, item 8)", async () => {
    for (const returned of [{ port: 5432 }, ["a"], null, "text", { nested: { a: "b" } }]) {
      const adapter = adapterThatThrows(new Error("unused"));
      adapter.getSecretValues = async () => returned as never;
      for (const cache of [undefined, { ttlMs: 60_000 }]) {
        const store = SecretStore.fromAdapter(adapter, { cache });
        await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_SECRET_INTEGRITY" });
      }
    }
  });

  it("uses 65,536 bytes when an adapter states no maxValueBytes (issue 12, item 8)", async () => {
    const { maxValueBytes: _, ...adapter } = adapterThatThrows(new Error("unused"));
    adapter.storeSecretValues = vi.fn(async () => undefined);
    const store = SecretStore.fromAdapter(adapter);
    expect(store.maxValueBytes).toBe(65_536);
    await expect(store.storeSecretValues(randomUUID(), { k: "x".repeat(65_536) })).rejects.toMatchObject({
      code: "E_SECRET_TOO_LARGE",
    });
  });

  it("reports listSecretIds as not supported when the adapter has none", async () => {
    const store = SecretStore.fromAdapter(adapterThatThrows(new Error("x")));
    await expect(async () => {
      for await (const _ of store.listSecretIds()) break;
    }).rejects.toMatchObject({ code: "E_NOT_SUPPORTED" });
  });

  it("refuses calls after close, and closes the adapter once", async () => {
    const adapter = adapterThatThrows(new Error("x"));
    adapter.close = vi.fn();
    const store = SecretStore.fromAdapter(adapter);
    await store.close();
    await store.close();
    expect(adapter.close).toHaveBeenCalledTimes(1);
    await expect(store.getSecretValues(randomUUID())).rejects.toBeInstanceOf(SecretStoreError);
  });

  it("shows no key or credential in inspect or JSON output", async () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    const store = await SecretStore.create({ provider: "local", path: ":memory:", key });
    expect(inspect(store, { depth: 10 })).not.toContain(key);
    expect(JSON.stringify(store)).not.toContain(key);
    expect(inspect(store)).toContain("local");
    await store.close();
  });
});
