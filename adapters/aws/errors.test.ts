import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { SecretsManagerClient, SecretsManagerServiceException } from "@aws-sdk/client-secrets-manager";
import * as v from "valibot";
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
  const options = v.parse(awsOptionsSchema, { provider: "aws", client, verifyOwnership });
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
    expect(v.safeParse(awsOptionsSchema, { provider: "aws", endpoint: "not a url" }).success).toBe(false);
    expect(v.safeParse(awsOptionsSchema, { provider: "aws", owner: "" }).success).toBe(false);
    expect(v.safeParse(awsOptionsSchema, { provider: "aws", listPageSize: 101 }).success).toBe(false);
    expect(v.parse(awsOptionsSchema, { provider: "aws" })).toMatchObject({
      owner: "default",
      listPageSize: 100,
      maxAttempts: 3,
    });
  });

  describe("a batch read (BatchGetSecretValue)", () => {
    /** A store whose client answers every BatchGetSecretValue with `answer(names)`, or never. */
    function storeAnsweringBatch(
      answer: ((names: string[]) => { statusCode: number; body: unknown }) | "never",
      overrides: Record<string, unknown> = {},
    ) {
      const client = new SecretsManagerClient({
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
        maxAttempts: 1,
        requestHandler: {
          async handle(request: { body?: Uint8Array | string }) {
            if (answer === "never") return new Promise<never>(() => undefined);
            const sent = request.body ?? "";
            const text = typeof sent === "string" ? sent : new TextDecoder().decode(sent);
            const { SecretIdList } = JSON.parse(text) as { SecretIdList: string[] };
            const { statusCode, body } = answer(SecretIdList);
            return {
              response: {
                statusCode,
                headers: { "content-type": "application/x-amz-json-1.1" },
                body: Readable.from([Buffer.from(JSON.stringify(body))]),
              },
            };
          },
        },
      });
      const options = v.parse(awsOptionsSchema, { provider: "aws", client, ...overrides });
      return SecretStore.fromAdapter(new AwsSecretsAdapter(options, { prefix: "omnisecret" }));
    }
    const failed = (SecretId: string | undefined, ErrorCode: string, Message = "simulated") => ({
      SecretId,
      ErrorCode,
      Message,
    });

    it("maps each secret's error as a get of it would be, and reports an id AWS left out as unknown", async () => {
      const ids = Array.from({ length: 5 }, () => randomUUID());
      const [denied, throttled, odd, leftOut, fine] = ids as [string, string, string, string, string];
      const store = storeAnsweringBatch(([deniedName, throttledName, oddName, _leftOut, fineName]) => ({
        statusCode: 200,
        body: {
          SecretValues: [{ Name: fineName, SecretString: '{"a":"1"}' }],
          Errors: [
            failed(deniedName, "AccessDeniedException"),
            failed(throttledName, "ThrottlingException"),
            failed(oddName, "SomethingNewException"),
            // Not one of the names asked for: ignored.
            failed("omnisecret/default/elsewhere", "ResourceNotFoundException"),
          ],
        },
      }));
      const results = await store.getManySecretValues(ids);
      expect(
        Object.fromEntries(
          [...results].map(([id, result]) => [id, "values" in result ? result.values : result.error.code]),
        ),
      ).toEqual({
        [denied]: "E_PERMISSION_DENIED",
        [throttled]: "E_PROVIDER_UNAVAILABLE",
        [odd]: "E_UNKNOWN",
        [leftOut]: "E_UNKNOWN",
        [fine]: { a: "1" },
      });
      expect(results.get(denied)).toMatchObject({ error: { provider: "aws", secretId: denied } });
      expect(results.get(odd)).toMatchObject({ error: { cause: { name: "SomethingNewException" } } });
    });

    it("fails every id when the whole request fails", async () => {
      const store = storeAnsweringBatch(() => ({
        statusCode: 400,
        body: { __type: "AccessDeniedException", message: "no secretsmanager:BatchGetSecretValue" },
      }));
      const ids = [randomUUID(), randomUUID()];
      const results = await store.getManySecretValues(ids);
      for (const id of ids) expect(results.get(id)).toMatchObject({ error: { code: "E_PERMISSION_DENIED" } });
    });

    it("ends within operationTimeoutMs when the server never answers", async () => {
      const store = storeAnsweringBatch("never", { operationTimeoutMs: 200, requestTimeoutMs: 60_000 });
      const started = Date.now();
      const results = await store.getManySecretValues([randomUUID()]);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect([...results.values()][0]).toMatchObject({
        error: { code: "E_PROVIDER_UNAVAILABLE", message: expect.stringContaining("operationTimeoutMs") },
      });
    });

    it("is offered by default only: with verifyOwnership the facade reads per id", () => {
      const adapter = (verifyOwnership: boolean) =>
        new AwsSecretsAdapter(v.parse(awsOptionsSchema, { provider: "aws", region: "us-east-1", verifyOwnership }), {
          prefix: "omnisecret",
        });
      expect(adapter(false).capabilities).toMatchObject({ batchGet: true, maxBatchSize: 20 });
      expect(adapter(true).capabilities.batchGet).toBe(false);
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
      const options = v.parse(awsOptionsSchema, { provider: "aws", client });
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
