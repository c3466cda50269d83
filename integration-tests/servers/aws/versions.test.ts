/**
 * Versions on the AWS adapter (issue 23) against the harness's Secrets Manager server: "previous"
 * is AWSPREVIOUS, a token names a VersionId and the secret's incarnation (its ARN's random
 * suffix), and only the latest `keepVersions` (1 or 2) are readable through omnisecret. Through
 * the adapter itself, so the proof does not wait for the facade's version options.
 */
import { randomUUID } from "node:crypto";
import {
  DeleteSecretCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, describe, expect, it } from "vitest";
import { requestsChosenBy } from "../../../bench/lib/counters.js";
import type { SecretsAdapter } from "../../../src/index.js";
import {
  readValues as read,
  storeValues as store,
  updateValues as update,
} from "../../../test-support/adapter-calls.js";
import { adapterOpener, serverConfig } from "../../server-config.js";

const config = serverConfig("aws");
const rawClient = new SecretsManagerClient({
  region: config.region as string,
  endpoint: config.endpoint as string,
  credentials: { ...(config.credentials as { accessKeyId: string; secretAccessKey: string }) },
});
afterAll(() => rawClient.destroy());
const open = adapterOpener(config, "iv");

const versionsOf = (adapter: SecretsAdapter, id: string) => {
  if (!adapter.listSecretVersions) throw new Error("the aws adapter has no listSecretVersions");
  return adapter.listSecretVersions(id, {});
};
const notFound = { code: "E_SECRET_NOT_FOUND" };

describe.each([
  { mode: "default", verifyOwnership: false },
  { mode: "verifyOwnership", verifyOwnership: true },
])("aws versions ($mode)", ({ verifyOwnership }) => {
  it("keepVersions 2: store A, update B, update C; latest C, previous B, A unreadable; rollback gives latest B, previous C", async () => {
    const { adapter } = await open({ keepVersions: 2, verifyOwnership });
    expect(adapter.capabilities.versions).toBe(true);
    const id = randomUUID();
    await store(adapter, id, { v: "A" });
    await expect(read(adapter, id, "previous")).rejects.toMatchObject({
      ...notFound,
      message: expect.stringContaining("no previous version"),
    });
    const [a] = await versionsOf(adapter, id);
    if (!a) throw new Error("no version listed after a store");
    expect(a).toMatchObject({ current: true, readable: true });
    expect(adapter.isVersionToken?.(a.token)).toBe(true);
    expect(await read(adapter, id, a.token)).toEqual({ v: "A" });

    await update(adapter, id, { v: "B" });
    await update(adapter, id, { v: "C" });
    expect(await read(adapter, id)).toEqual({ v: "C" });
    expect(await read(adapter, id, "latest")).toEqual({ v: "C" });
    expect(await read(adapter, id, "previous")).toEqual({ v: "B" });
    await expect(read(adapter, id, a.token)).rejects.toMatchObject({
      ...notFound,
      message: expect.stringContaining("is gone"),
    });

    const versions = await versionsOf(adapter, id);
    const [c, b, ...older] = versions;
    expect(c).toMatchObject({ current: true, readable: true });
    expect(b).toMatchObject({ current: false, readable: true });
    // A is still in AWS, deprecated (no label), until AWS removes it: listed, not readable.
    expect(older).toEqual([{ ...a, current: false, readable: false }]);
    if (!c || !b) throw new Error("fewer than two versions listed");
    expect(c.createdAt.getTime()).toBeGreaterThanOrEqual(b.createdAt.getTime());
    expect(await read(adapter, id, c.token)).toEqual({ v: "C" });
    expect(await read(adapter, id, b.token)).toEqual({ v: "B" });

    // Rollback, as the facade does it: the previous values, written as a new current version.
    await update(adapter, id, await read(adapter, id, "previous"));
    expect(await read(adapter, id)).toEqual({ v: "B" });
    expect(await read(adapter, id, "previous")).toEqual({ v: "C" });
    const afterRollback = await versionsOf(adapter, id);
    expect(afterRollback.map(({ current, readable }) => ({ current, readable }))).toEqual([
      { current: true, readable: true },
      { current: false, readable: true },
      { current: false, readable: false },
      { current: false, readable: false },
    ]);
    expect(afterRollback[1]?.token).toBe(c.token);
    await expect(read(adapter, id, b.token)).rejects.toMatchObject(notFound);
    await adapter.deleteSecretValues(id, {});
  });

  it("keepVersions 1 (the default): no earlier version is readable, though AWS keeps AWSPREVIOUS", async () => {
    const { adapter, prefix } = await open({ verifyOwnership });
    const id = randomUUID();
    await store(adapter, id, { v: "A" });
    const [a] = await versionsOf(adapter, id);
    if (!a) throw new Error("no version listed after a store");
    await update(adapter, id, { v: "B" });
    expect(await read(adapter, id)).toEqual({ v: "B" });
    await expect(read(adapter, id, "previous")).rejects.toMatchObject({
      ...notFound,
      message: expect.stringContaining("keepVersions is 1"),
    });
    await expect(read(adapter, id, a.token)).rejects.toMatchObject(notFound);
    const versions = await versionsOf(adapter, id);
    expect(versions.map(({ current, readable }) => ({ current, readable }))).toEqual([
      { current: true, readable: true },
      { current: false, readable: false },
    ]);
    // What stays in AWS: the replaced version, labelled AWSPREVIOUS.
    const raw = await rawClient.send(new ListSecretVersionIdsCommand({ SecretId: `${prefix}/default/${id}` }));
    expect(raw.Versions?.flatMap((version) => version.VersionStages ?? []).sort()).toEqual([
      "AWSCURRENT",
      "AWSPREVIOUS",
    ]);
    await adapter.deleteSecretValues(id, {});
  });

  it("delete removes every version: after a new store of the id an old token is not found, and the history starts afresh", async () => {
    const { adapter } = await open({ keepVersions: 2, verifyOwnership });
    const id = randomUUID();
    await store(adapter, id, { generation: "1" });
    await update(adapter, id, { generation: "1b" });
    const old = await versionsOf(adapter, id);
    await adapter.deleteSecretValues(id, {});
    await expect(versionsOf(adapter, id)).rejects.toMatchObject(notFound);
    for (const version of old) await expect(read(adapter, id, version.token)).rejects.toMatchObject(notFound);

    await store(adapter, id, { generation: "2" });
    for (const version of old) {
      await expect(read(adapter, id, version.token)).rejects.toMatchObject({
        ...notFound,
        message: expect.stringContaining("is gone"),
      });
    }
    await expect(read(adapter, id, "previous")).rejects.toMatchObject(notFound);
    const fresh = await versionsOf(adapter, id);
    expect(fresh).toHaveLength(1);
    expect(old.map((version) => version.token)).not.toContain(fresh[0]?.token);
    // The same version id under the new incarnation would be refused too: the incarnation is checked.
    const [, oldNative] = (old[0]?.token ?? "").split(".");
    const [freshIncarnation] = (fresh[0]?.token ?? "").split(".");
    await expect(read(adapter, id, `${freshIncarnation}.${oldNative}`)).rejects.toMatchObject(notFound);
    // And the new secret's version under the old incarnation: AWS answers it, its ARN refuses it.
    const [oldIncarnation] = (old[0]?.token ?? "").split(".");
    const [, freshNative] = (fresh[0]?.token ?? "").split(".");
    expect(await read(adapter, id, fresh[0]?.token ?? "")).toEqual({ generation: "2" });
    await expect(read(adapter, id, `${oldIncarnation}.${freshNative}`)).rejects.toMatchObject({
      ...notFound,
      message: expect.stringContaining("is gone"),
    });
    await adapter.deleteSecretValues(id, {});
  });

  it("a secret deleted outside omnisecret with a recovery window has no readable version", async () => {
    const { adapter, prefix } = await open({ keepVersions: 2, verifyOwnership });
    const id = randomUUID();
    await store(adapter, id, { v: "A" });
    await update(adapter, id, { v: "B" });
    const versions = await versionsOf(adapter, id);
    await rawClient.send(new DeleteSecretCommand({ SecretId: `${prefix}/default/${id}`, RecoveryWindowInDays: 7 }));
    await expect(versionsOf(adapter, id)).rejects.toMatchObject(notFound);
    await expect(read(adapter, id, "previous")).rejects.toMatchObject(notFound);
    for (const version of versions) await expect(read(adapter, id, version.token)).rejects.toMatchObject(notFound);
    await rawClient.send(
      new DeleteSecretCommand({ SecretId: `${prefix}/default/${id}`, ForceDeleteWithoutRecovery: true }),
    );
  });

  it("a missing id has no versions and no previous; a token of another secret is not found", async () => {
    const { adapter } = await open({ keepVersions: 2, verifyOwnership });
    const id = randomUUID();
    await expect(versionsOf(adapter, id)).rejects.toMatchObject(notFound);
    await expect(read(adapter, id, "previous")).rejects.toMatchObject(notFound);
    const other = randomUUID();
    await store(adapter, other, { v: "other" });
    const [otherVersion] = await versionsOf(adapter, other);
    await store(adapter, id, { v: "mine" });
    await expect(read(adapter, id, otherVersion?.token ?? "")).rejects.toMatchObject(notFound);
    await adapter.deleteSecretValues(id, {});
    await adapter.deleteSecretValues(other, {});
  });
});

describe("aws version tokens and requests", () => {
  it("isVersionToken takes <6-character ARN suffix>.<version id> only", async () => {
    const { adapter } = await open({ keepVersions: 2 });
    const check = (token: string) => adapter.isVersionToken?.(token);
    expect(check(`AbC123.${randomUUID()}`)).toBe(true);
    for (const token of [
      "",
      "previous",
      randomUUID(),
      `.${randomUUID()}`,
      `AbC12.${randomUUID()}`,
      `AbC1234.${randomUUID()}`,
      "AbC123.short",
      `AbC123.${randomUUID()}.x`,
      `AbC123.${"a".repeat(65)}`,
      "lz8k2d1.7",
    ]) {
      expect(check(token), token).toBe(false);
    }
  });

  it("by default: previous is 1 request, a token read 1, a version list 1; verifyOwnership adds the DescribeSecret", async () => {
    for (const [verifyOwnership, describes] of [
      [false, 0],
      [true, 1],
    ] as const) {
      const { adapter } = await open({ keepVersions: 2, verifyOwnership });
      const id = randomUUID();
      await store(adapter, id, { v: "A" });
      await update(adapter, id, { v: "B" });
      const [latest] = await versionsOf(adapter, id);
      expect(await requestsChosenBy(() => read(adapter, id, "previous"))).toBe(describes + 1);
      expect(await requestsChosenBy(() => read(adapter, id, latest?.token ?? ""))).toBe(describes + 1);
      expect(await requestsChosenBy(() => versionsOf(adapter, id))).toBe(describes + 1);
      expect(await requestsChosenBy(() => read(adapter, id))).toBe(describes + 1);
      // keepVersions 1 answers "previous" without a request.
      const { adapter: keepingOne } = await open({ verifyOwnership });
      expect(await requestsChosenBy(() => read(keepingOne, id, "previous").catch((error: unknown) => error))).toBe(0);
      await adapter.deleteSecretValues(id, {});
    }
  });
});
