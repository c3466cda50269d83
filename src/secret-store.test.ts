import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { MemoryAdapter } from "../adapters/memory/index.js";
import type { CallOptions, LegacySecretsAdapter, SecretsAdapter, SecretValues } from "./contract.js";
import { SecretNotFoundError, SecretStoreError } from "./errors.js";
import { contractAdapter } from "./legacy-adapter.js";
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

/** An adapter of today's contract over a memory adapter, recording the options of each call. */
function recordingAdapter(capabilities: SecretsAdapter["capabilities"] = { list: true, conditionalDelete: true }) {
  const inner = new MemoryAdapter({ maxValueBytes: 65_536 });
  const options: CallOptions[] = [];
  const adapter: SecretsAdapter = {
    provider: "recording",
    capabilities,
    storeSecretValues: (id, values, serialized, call) => {
      options.push(call);
      return inner.storeSecretValues(id, values, serialized);
    },
    getSecretValues: (id, call) => {
      options.push(call);
      return inner.getSecretValues(id);
    },
    updateSecretValues: (id, values, serialized, call) => {
      options.push(call);
      return inner.updateSecretValues(id, values, serialized);
    },
    deleteSecretValues: (id, call) => {
      options.push(call);
      return inner.deleteSecretValues(id);
    },
    deleteSecretValuesIfUnchanged: (id, expected, call) => {
      options.push(call);
      return inner.deleteSecretValuesIfUnchanged(id, expected);
    },
    listSecretIds: (call) => {
      options.push(call);
      return inner.listSecretIds();
    },
  };
  return { adapter, options };
}

describe("SecretStore with the caller's signal", () => {
  it("hands the adapter one shared empty options object when the caller gives no signal", async () => {
    const { adapter, options } = recordingAdapter();
    const store = SecretStore.fromAdapter(adapter);
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "1" });
    await store.getSecretValues(id);
    await store.updateSecretValues(id, { a: "2" });
    for await (const _ of store.listSecretIds());
    await store.deleteSecretValues(id, { expectedValues: { a: "2" } });
    expect(options).toHaveLength(5);
    expect(new Set(options).size).toBe(1);
    expect(options[0]).toEqual({});
    expect(Object.isFrozen(options[0])).toBe(true);
  });

  it("hands the adapter the caller's signal, and does not call it once the signal has aborted", async () => {
    const { adapter, options } = recordingAdapter();
    const store = SecretStore.fromAdapter(adapter);
    const id = randomUUID();
    const { signal } = new AbortController();
    await store.storeSecretValues(id, { a: "1" }, { signal });
    expect(await store.getSecretValues(id, { signal })).toEqual({ a: "1" });
    expect(options.map((call) => call.signal)).toEqual([signal, signal]);
    const reason = new Error("gave up");
    const aborted = AbortSignal.abort(reason);
    await expect(store.getSecretValues(id, { signal: aborted })).rejects.toBe(reason);
    await expect(store.updateSecretValues(id, { a: "2" }, { signal: aborted })).rejects.toBe(reason);
    await expect(store.deleteSecretValues(id, { signal: aborted })).rejects.toBe(reason);
    await expect(store.getManySecretValues([id], { signal: aborted })).rejects.toBe(reason);
    await expect(async () => {
      for await (const _ of store.listSecretIds({ signal: aborted }));
    }).rejects.toBe(reason);
    expect(options).toHaveLength(2);
    expect(await store.getSecretValues(id)).toEqual({ a: "1" });
  });

  it("ends a call the adapter does not stop with the reason, and leaves no cache entry behind", async () => {
    let release: (() => void) | undefined;
    const { adapter } = recordingAdapter();
    const store = SecretStore.fromAdapter(
      {
        ...adapter,
        getSecretValues: async (id, call) => {
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          return adapter.getSecretValues(id, call);
        },
      },
      { cache: { ttlMs: 60_000 } },
    );
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "1" });
    const controller = new AbortController();
    const pending = store.getSecretValues(id, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 1));
    controller.abort("stop");
    await expect(pending).rejects.toBe("stop");
    const next = store.getSecretValues(id);
    await new Promise((resolve) => setTimeout(resolve, 1));
    release?.();
    expect(await next).toEqual({ a: "1" });
  });

  it("stops a list between ids once the signal aborts", async () => {
    const { adapter } = recordingAdapter();
    const store = SecretStore.fromAdapter(adapter);
    for (let index = 0; index < 3; index += 1) await store.storeSecretValues(randomUUID(), { index: String(index) });
    const controller = new AbortController();
    const seen: string[] = [];
    await expect(async () => {
      for await (const id of store.listSecretIds({ signal: controller.signal })) {
        seen.push(id);
        controller.abort("enough");
      }
    }).rejects.toBe("enough");
    expect(seen).toHaveLength(1);
  });
});

describe("SecretStore and an adapter's capabilities", () => {
  it("calls optional methods only where capabilities say the adapter has them", async () => {
    const { adapter, options } = recordingAdapter({});
    const store = SecretStore.fromAdapter(adapter);
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "1" });
    await expect(async () => {
      for await (const _ of store.listSecretIds());
    }).rejects.toMatchObject({ code: "E_NOT_SUPPORTED" });
    // No conditionalDelete: a read, a comparison and a delete.
    await store.deleteSecretValues(id, { expectedValues: { a: "1" } });
    expect(options).toHaveLength(3);
  });

  it("does not cache a read the adapter says is not cacheable", async () => {
    const { adapter } = recordingAdapter();
    let gets = 0;
    const store = SecretStore.fromAdapter(
      {
        ...adapter,
        getSecretValues: async (id, call) => {
          gets += 1;
          const read = await adapter.getSecretValues(id, call);
          return gets === 1 ? { values: read.values, cacheable: false } : read;
        },
      },
      { cache: { ttlMs: 60_000 } },
    );
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "1" });
    await store.getSecretValues(id);
    await store.getSecretValues(id);
    await store.getSecretValues(id);
    expect(gets).toBe(2);
  });

  it("adapts an adapter of the earlier contract once: the same object gives the same store adapter", async () => {
    const legacy = adapterThatThrows(new SecretNotFoundError("x"));
    expect(contractAdapter(legacy)).toBe(contractAdapter(legacy));
    expect(contractAdapter(legacy).capabilities).toEqual({
      maxValueBytes: 1000,
      atomicCreate: undefined,
      conditionalDelete: false,
      batchGet: false,
      maxBatchSize: undefined,
      list: false,
    });
    const { adapter } = recordingAdapter();
    expect(contractAdapter(adapter)).toBe(adapter);
  });
});
