import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { SecretsManagerClient, SecretsManagerServiceException } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { SecretStore } from "../../src/secret-store.js";
import { expectCauseOf, failuresOfGetUpdateDelete } from "../../test-support/failures.js";
import { AwsSecretsAdapter } from "./index.js";
import { awsOptionsSchema } from "./options.js";

/** An AWS service error as the SDK builds it from a response. */
function serviceError(name: string, status: number, fault: "client" | "server" = "client") {
  return new SecretsManagerServiceException({
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status, attempts: 3 },
    message: `simulated ${name}`,
  });
}

/** A store whose client fails every request with `error` (the server cannot be made to produce these codes). */
function storeFailingWith(error: unknown, { verifyOwnership = false } = {}): SecretStore {
  const client = new SecretsManagerClient({ region: "us-east-1" });
  client.send = async () => Promise.reject(error);
  const options = awsOptionsSchema.parse({ provider: "aws", client, verifyOwnership });
  return SecretStore.fromAdapter(new AwsSecretsAdapter(options, { prefix: "omnisecret" }));
}

describe("AWS error mapping", () => {
  it.each([
    ["AccessDeniedException", 400, "E_PERMISSION_DENIED"],
    ["UnrecognizedClientException", 400, "E_PERMISSION_DENIED"],
    ["DecryptionFailure", 400, "E_PERMISSION_DENIED"],
    ["ThrottlingException", 400, "E_PROVIDER_UNAVAILABLE"],
    ["LimitExceededException", 400, "E_PROVIDER_UNAVAILABLE"],
    ["InternalServiceError", 500, "E_PROVIDER_UNAVAILABLE"],
    ["ServiceUnavailable", 503, "E_PROVIDER_UNAVAILABLE"],
    ["ResourceNotFoundException", 400, "E_SECRET_NOT_FOUND"],
  ])("maps %s to %s on every operation", async (name, status, code) => {
    const error = serviceError(name, status, status >= 500 ? "server" : "client");
    // Default mode fails on the operation's own request, strict mode on its DescribeSecret.
    for (const verifyOwnership of [false, true]) {
      const store = storeFailingWith(error, { verifyOwnership });
      const id = randomUUID();
      for (const caught of await failuresOfGetUpdateDelete(store, id)) {
        expect(caught).toMatchObject({ code, provider: "aws", secretId: id });
        expectCauseOf(caught, error);
      }
    }
  });

  it("maps a store that hits throttling or denial", async () => {
    await expect(
      storeFailingWith(serviceError("ThrottlingException", 400)).storeSecretValues(randomUUID(), {}),
    ).rejects.toMatchObject({
      code: "E_PROVIDER_UNAVAILABLE",
    });
    await expect(
      storeFailingWith(serviceError("AccessDeniedException", 400)).storeSecretValues(randomUUID(), {}),
    ).rejects.toMatchObject({
      code: "E_PERMISSION_DENIED",
    });
  });

  it("treats a secret marked for deletion as not found", async () => {
    // AWS's answer to reads and writes, then LocalStack's to a second DeleteSecret.
    for (const message of [
      "You can't perform this operation on the secret because it was marked for deletion.",
      "You tried to perform the operation on a secret that's currently marked deleted.",
    ]) {
      const error = serviceError("InvalidRequestException", 400);
      error.message = message;
      const id = randomUUID();
      for (const caught of await failuresOfGetUpdateDelete(storeFailingWith(error), id)) {
        expect(caught).toMatchObject({ code: "E_SECRET_NOT_FOUND", secretId: id });
      }
    }
  });

  it("maps a refused connection to provider unavailable, and a list failure too", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    const store = storeFailingWith(refused);
    await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    await expect(async () => {
      for await (const _ of store.listSecretIds()) break;
    }).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
  });

  it("wraps an error with no typed counterpart, keeping it as the cause", async () => {
    const error = serviceError("InvalidParameterException", 400);
    const caught = await storeFailingWith(error)
      .getSecretValues(randomUUID())
      .catch((e: unknown) => e);
    expect(caught).toMatchObject({ code: "E_UNKNOWN", provider: "aws" });
    expectCauseOf(caught, error);
    expect((caught as Error).cause).toMatchObject({ statusCode: 400 });
  });

  it("validates its options: endpoint, owner and page size", () => {
    expect(awsOptionsSchema.safeParse({ provider: "aws", endpoint: "not a url" }).success).toBe(false);
    expect(awsOptionsSchema.safeParse({ provider: "aws", owner: "" }).success).toBe(false);
    expect(awsOptionsSchema.safeParse({ provider: "aws", listPageSize: 101 }).success).toBe(false);
    expect(awsOptionsSchema.parse({ provider: "aws" })).toMatchObject({
      owner: "default",
      listPageSize: 100,
      maxAttempts: 3,
    });
  });

  describe("a delete the SDK retried", () => {
    /** A client whose HTTP answers are scripted: a function per attempt, throwing for a lost answer. */
    function storeAnswering(answers: (() => { statusCode: number; type: string; message: string })[]) {
      let attempt = 0;
      const client = new SecretsManagerClient({
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
        maxAttempts: answers.length,
        requestHandler: {
          async handle() {
            const answer = answers[attempt++];
            if (!answer) throw new Error("no more answers scripted");
            const { statusCode, type, message } = answer();
            const body = JSON.stringify({ __type: type, message });
            return {
              response: {
                statusCode,
                headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": type },
                body: Readable.from([Buffer.from(body)]),
              },
            };
          },
        },
      });
      const options = awsOptionsSchema.parse({ provider: "aws", client });
      return SecretStore.fromAdapter(new AwsSecretsAdapter(options, { prefix: "omnisecret" }));
    }
    const alreadyScheduled = () => ({
      statusCode: 400,
      type: "InvalidRequestException",
      message: "You tried to perform the operation on a secret that's currently marked deleted.",
    });

    it("is not found when the attempt before was refused (throttled)", async () => {
      const store = storeAnswering([
        () => ({ statusCode: 400, type: "ThrottlingException", message: "Rate exceeded" }),
        alreadyScheduled,
      ]);
      await expect(store.deleteSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    });

    it("is unavailable when the attempt before may have been applied (its answer lost, or a 5xx)", async () => {
      const lost = () => {
        throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      };
      const serverError = () => ({ statusCode: 500, type: "InternalServiceError", message: "oops" });
      for (const first of [lost, serverError]) {
        const store = storeAnswering([first, alreadyScheduled]);
        await expect(store.deleteSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
      }
    });
  });
});
