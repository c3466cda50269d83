/**
 * Deletes racing other writers on the AWS test server (issue 12, item 5): of concurrent deletes
 * exactly one succeeds, and a slow delete never removes the secret stored again after another
 * client deleted it.
 */
import { randomUUID } from "node:crypto";
import { DeleteSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { createGate } from "../../../test-support/gate.js";
import { serverConfig, storeOpener } from "../../server-config.js";

const config = serverConfig("aws");
const open = storeOpener(config, () => `race-${randomUUID().slice(0, 8)}`);
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => "deleted",
    (error: { code?: string }) => error.code,
  );

describe("aws deletes racing other writers (issue 12, item 5)", () => {
  it("lets exactly one of five concurrent deletes of one id succeed", async () => {
    const store = await open();
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "b" });
    const stores = [store, ...(await Promise.all(Array.from({ length: 4 }, () => open({ prefix: store.prefix }))))];
    const outcomes = await Promise.all(stores.map((each) => outcome(each.deleteSecretValues(id))));
    expect(outcomes.filter((each) => each === "deleted")).toHaveLength(1);
    expect(outcomes.filter((each) => each !== "deleted")).toEqual(Array(4).fill("E_SECRET_NOT_FOUND"));
    // Deleted for good: the id can be stored again at once.
    await store.storeSecretValues(id, { again: "yes" });
    expect(await store.getSecretValues(id)).toEqual({ again: "yes" });
  });

  it("a slow delete never removes the secret stored again after another client deleted it", async () => {
    const prefix = `slow-${randomUUID().slice(0, 8)}`;
    const id = randomUUID();
    const other = await open({ prefix });
    await other.storeSecretValues(id, { generation: "1" });
    // The slow client's deletes wait at a gate, after its DescribeSecret has found the secret.
    const gate = createGate();
    const client = new SecretsManagerClient({
      region: config.region as string,
      endpoint: config.endpoint as string,
      credentials: { ...(config.credentials as { accessKeyId: string; secretAccessKey: string }) },
    });
    const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
    client.send = (async (command: unknown) => {
      if (command instanceof DeleteSecretCommand) await gate.pass();
      return send(command);
    }) as typeof client.send;
    const slow = await open({ prefix, client });
    const slowDelete = outcome(slow.deleteSecretValues(id));
    await gate.reached;
    await other.deleteSecretValues(id);
    await other.storeSecretValues(id, { generation: "2" });
    gate.open();
    expect(await slowDelete).toBe("E_SECRET_NOT_FOUND");
    expect(await other.getSecretValues(id)).toEqual({ generation: "2" });
    client.destroy();
  });
});
