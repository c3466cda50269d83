import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { expectCauseOf, failuresOfGetUpdateDelete } from "../../test-support/failures.js";
import { Status } from "./errors.js";
import { FakeSecretManager, grpcError, storeOn } from "./fake-secret-manager.test-helper.js";
import type { GcpOptions } from "./options.js";

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
      "destroySecretVersion",
      "disableSecretVersion",
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
      expectCauseOf(caught, error);
    }
  });

  it("maps store failures", async () => {
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
    expect(fake.calls.filter((call) => call.method === "accessSecretVersion")).toHaveLength(3);
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
