import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import { AuthenticationError, CredentialUnavailableError } from "@azure/identity";
import { RestError, type SecretClient } from "@azure/keyvault-secrets";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { SecretStore, type SecretStoreError } from "../../src/index.js";
import { markedSecretValue } from "../../src/testing/index.js";
import { failuresOfGetUpdateDelete } from "../../test-support/failures.js";
import { KeyVaultRequestError } from "./errors.js";
import { AzureKeyVaultAdapter } from "./index.js";
import { azureOptionsSchema } from "./options.js";

/** A RestError as the SDK builds it from Key Vault's answer, with the request (and its body) attached. */
function answered(status: number, code: string, innerCode?: string, body = '{"value":"x"}'): RestError {
  const request = { url: "https://vault.example/secrets/x", method: "PUT", body, headers: {} };
  const error = new RestError(`simulated ${code}`, { statusCode: status, code, request: request as never });
  error.details = {
    error: { code, message: `simulated ${code}`, ...(innerCode ? { innerError: { code: innerCode } } : {}) },
  };
  return error;
}

/** A connection-level RestError, as the SDK's node HTTP client builds it. */
function unanswered(code: string, body = '{"value":"x"}'): RestError {
  return new RestError(`connect ${code} 127.0.0.1:1`, { code, request: { body } as never });
}

type Method =
  | "getSecret"
  | "setSecret"
  | "getDeletedSecret"
  | "purgeDeletedSecret"
  | "updateSecretProperties"
  | "beginDeleteSecret"
  | "beginRecoverDeletedSecret";

/**
 * A SecretClient whose methods fail with `error` unless `answers` gives them a behaviour; it
 * records the methods called, in order.
 */
function fakeClient(error: unknown, answers: Partial<Record<Method, () => Promise<unknown>>> = {}) {
  const calls: Method[] = [];
  const behaviours: Partial<Record<Method, () => Promise<unknown>>> = { ...answers };
  const method = (name: Method) => async () => {
    calls.push(name);
    const behaviour = behaviours[name];
    return behaviour ? behaviour() : Promise.reject(error);
  };
  const client = {
    getSecret: method("getSecret"),
    setSecret: method("setSecret"),
    getDeletedSecret: method("getDeletedSecret"),
    purgeDeletedSecret: method("purgeDeletedSecret"),
    updateSecretProperties: method("updateSecretProperties"),
    beginDeleteSecret: method("beginDeleteSecret"),
    beginRecoverDeletedSecret: method("beginRecoverDeletedSecret"),
    listPropertiesOfSecrets: () => ({
      byPage: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }) }),
    }),
  };
  return { client, calls, behaviours };
}

const notFound = () => Promise.reject(answered(404, "SecretNotFound"));

function storeWith(client: unknown, extra: Record<string, unknown> = {}) {
  const options = v.parse(azureOptionsSchema, {
    provider: "azure",
    vaultUrl: "https://vault.example",
    client: client as SecretClient,
    ...extra,
  });
  return SecretStore.fromAdapter(new AzureKeyVaultAdapter(options, { prefix: "omnisecret" }));
}

const LOWKEY = "com.github.nagyesta.lowkeyvault.service.exception";

describe("Azure error mapping", () => {
  it.each([
    ["401 Unauthorized", answered(401, "Unauthorized"), "E_PERMISSION_DENIED"],
    ["403 Forbidden", answered(403, "Forbidden", "AccessDenied"), "E_PERMISSION_DENIED"],
    ["404 SecretNotFound", answered(404, "SecretNotFound"), "E_SECRET_NOT_FOUND"],
    ["Lowkey Vault's 404", answered(404, `${LOWKEY}.NotFoundException`), "E_SECRET_NOT_FOUND"],
    ["429 Throttled", answered(429, "Throttled"), "E_PROVIDER_UNAVAILABLE"],
    ["500 InternalServerError", answered(500, "InternalServerError"), "E_PROVIDER_UNAVAILABLE"],
    ["Lowkey Vault's 500", answered(500, "java.lang.IllegalStateException"), "E_PROVIDER_UNAVAILABLE"],
    ["503 ServiceUnavailable", answered(503, "ServiceUnavailable"), "E_PROVIDER_UNAVAILABLE"],
    ["a refused connection", unanswered("ECONNREFUSED"), "E_PROVIDER_UNAVAILABLE"],
    ["a reset connection", unanswered("ECONNRESET"), "E_PROVIDER_UNAVAILABLE"],
    [
      "the call's time limit",
      Object.assign(new Error("The operation was aborted."), { name: "AbortError" }),
      "E_PROVIDER_UNAVAILABLE",
    ],
    [
      "a refused client secret",
      new AuthenticationError(401, { error: "invalid_client", error_description: "AADSTS7000215" }),
      "E_PERMISSION_DENIED",
    ],
    [
      "no credential at all",
      new CredentialUnavailableError("EnvironmentCredential is unavailable"),
      "E_PERMISSION_DENIED",
    ],
    ["an untrusted certificate", unanswered("SELF_SIGNED_CERT_IN_CHAIN"), "E_CONFIG"],
  ])("maps %s to %s on get, update and delete, keeping no SDK error as cause", async (_case, error, code) => {
    const { client } = fakeClient(error);
    const id = randomUUID();
    for (const caught of await failuresOfGetUpdateDelete(storeWith(client), id)) {
      expect(caught).toMatchObject({ code, provider: "azure" });
      // A missing secret is reported without a cause; every other failure keeps the rebuilt one.
      const cause = (caught as Error).cause;
      if (code === "E_SECRET_NOT_FOUND") expect(cause).toBeUndefined();
      else expect(cause).toBeInstanceOf(KeyVaultRequestError);
      if (cause !== undefined) expect(cause).not.toHaveProperty("request");
    }
  });

  it("maps by status whatever the code says: a 403 with Lowkey Vault's class name is still denied", async () => {
    const { client } = fakeClient(answered(403, `${LOWKEY}.AccessDeniedException`));
    await expect(storeWith(client).getSecretValues(randomUUID())).rejects.toMatchObject({
      code: "E_PERMISSION_DENIED",
    });
  });

  it("treats a disabled latest version (403 SecretDisabled) as missing, and a store of its id as existing", async () => {
    // Delete reads the secret first only with verifyOwnership; by default its DELETE acts on the name.
    const { client, calls } = fakeClient(answered(403, "Forbidden", "SecretDisabled"));
    const store = storeWith(client, { verifyOwnership: true });
    for (const caught of await failuresOfGetUpdateDelete(store)) {
      expect(caught).toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    }
    await expect(store.storeSecretValues(randomUUID(), { a: "b" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    expect(calls).not.toContain("setSecret");
    expect(calls).not.toContain("beginDeleteSecret");
  });

  it("names the challenge option when the vault's challenge names another domain", async () => {
    const { client } = fakeClient(
      new Error(
        "The challenge resource 'vault.azure.net' does not match the requested domain. Set disableChallengeResourceVerification to true",
      ),
    );
    await expect(storeWith(client).getSecretValues(randomUUID())).rejects.toMatchObject({
      code: "E_CONFIG",
      field: "disableChallengeResourceVerification",
    });
  });

  it("wraps an error with no typed counterpart (400 BadParameter), keeping only the rebuilt cause", async () => {
    const { client } = fakeClient(answered(400, "BadParameter"));
    const caught = (await storeWith(client)
      .getSecretValues(randomUUID())
      .catch((e: unknown) => e)) as SecretStoreError;
    expect(caught).toMatchObject({ code: "E_UNKNOWN", provider: "azure" });
    // The facade keeps a copy of an unknown error's cause: the rebuilt one, never the RestError.
    expect(caught.cause).toMatchObject({ name: "KeyVaultRequestError", statusCode: 400, code: "BadParameter" });
    expect(caught.cause).not.toHaveProperty("request");
  });

  it("puts no value into the error, its cause or their inspect output when a set fails", async () => {
    const secret = markedSecretValue();
    const body = JSON.stringify({ value: JSON.stringify({ password: secret }) });
    for (const failure of [
      answered(500, "InternalServerError", undefined, body),
      answered(400, "BadParameter", undefined, body),
      unanswered("ECONNRESET", body),
      // A server that quotes the value back in its message.
      Object.assign(answered(400, "BadParameter", undefined, body), {
        details: { error: { code: "BadParameter", message: `bad value ${secret}` } },
      }),
    ]) {
      const { client } = fakeClient(failure, { getSecret: notFound });
      const store = storeWith(client);
      const errors = [
        await store.storeSecretValues(randomUUID(), { password: secret }).catch((e: unknown) => e),
        await store.updateSecretValues(randomUUID(), { password: secret }).catch((e: unknown) => e),
      ];
      for (const error of errors) {
        expect(error).toBeInstanceOf(Error);
        const text = `${(error as Error).message}\n${String((error as Error).stack)}\n${inspect(error, { depth: 20, showHidden: true })}`;
        expect(text).not.toContain(secret);
      }
    }
  });
});

describe("Azure store over a deleted secret (fake client)", () => {
  const conflict = () => answered(409, "Conflict", "ObjectIsDeletedButRecoverable");
  const deletedWithTags = (tags: Record<string, string>) => async () => ({
    name: "x",
    properties: { name: "x", tags, recoveryLevel: "Recoverable+Purgeable", version: "v1" },
  });

  it("leaves a foreign deleted secret alone: E_SECRET_EXISTS, no purge", async () => {
    const { client, calls } = fakeClient(conflict(), {
      getSecret: notFound,
      getDeletedSecret: deletedWithTags({ "managed-by": "someone-else" }),
    });
    await expect(storeWith(client).storeSecretValues(randomUUID(), { a: "b" })).rejects.toMatchObject({
      code: "E_SECRET_EXISTS",
    });
    expect(calls).toEqual(["getSecret", "setSecret", "getDeletedSecret"]);
  });

  it("purges its own deleted secret and sets again", async () => {
    const id = randomUUID();
    const { client, calls, behaviours } = fakeClient(conflict(), {
      getSecret: notFound,
      getDeletedSecret: deletedWithTags({
        "managed-by": "omnisecret",
        "omnisecret-id": id,
        "omnisecret-owner": "default",
      }),
      purgeDeletedSecret: async () => {
        behaviours.setSecret = async () => ({});
      },
    });
    await storeWith(client).storeSecretValues(id, { a: "b" });
    expect(calls).toEqual(["getSecret", "setSecret", "getDeletedSecret", "purgeDeletedSecret", "setSecret"]);
  });
});
