import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { formatReference, isReference, parseReference, resolveReferences } from "./references.js";
import { SecretStore } from "./secret-store.js";

describe("references", () => {
  it("parses omnisecret://<uuid>/<key>, decoding the key strictly", () => {
    const id = randomUUID();
    expect(parseReference(`omnisecret://${id.toUpperCase()}/DB_PASSWORD`)).toEqual({
      secretId: id,
      key: "DB_PASSWORD",
    });
    expect(parseReference(`omnisecret://${id}/a%2Fb%25c%20d%C3%A9`)).toEqual({ secretId: id, key: "a/b%c dé" });
    expect(parseReference(formatReference(id, "x/y?#% é"))).toEqual({ secretId: id, key: "x/y?#% é" });
    for (const bad of [
      "omnisecret://not-a-uuid/key",
      `omnisecret://${id}`,
      `omnisecret://${id}/`,
      `omnisecret://${id}/a/b`,
      `omnisecret://${id}/a%2`,
      `omnisecret://${id}/a%zz`,
      `omnisecret://${id}/a%FF`,
      `omnisecret://${id}/a b`,
      `op://${id}/key`,
    ]) {
      expect(() => parseReference(bad), bad).toThrow(expect.objectContaining({ code: "E_INVALID_REFERENCE" }));
      expect(isReference(bad)).toBe(false);
    }
    expect(isReference(`omnisecret://${id}/k`)).toBe(true);
  });

  it("resolves every whole-string reference, reading each secret once through the batch path", async () => {
    const store = await SecretStore.create({ provider: "memory" });
    const [a, b] = [randomUUID(), randomUUID()];
    await store.storeSecretValues(a, { user: "admin", "pass/word": "s3cret" });
    await store.storeSecretValues(b, { token: "t0ken" });
    const calls: string[][] = [];
    const counting = {
      getManySecretValues: (ids: Iterable<string>, options?: Parameters<SecretStore["getManySecretValues"]>[1]) => {
        calls.push([...ids]);
        return store.getManySecretValues(ids, options);
      },
    };
    const record = {
      USER: `omnisecret://${a}/user`,
      PASS: formatReference(a, "pass/word"),
      TOKEN: `omnisecret://${b}/token`,
      PLAIN: "left alone",
      EMBEDDED: `see omnisecret://${a}/user`,
    };
    expect(await resolveReferences(record, counting)).toEqual({
      USER: "admin",
      PASS: "s3cret",
      TOKEN: "t0ken",
      PLAIN: "left alone",
      EMBEDDED: `see omnisecret://${a}/user`,
    });
    expect(calls).toEqual([[a, b]]);
    expect(record.USER).toBe(`omnisecret://${a}/user`);
    const missing = randomUUID();
    await expect(resolveReferences({ X: `omnisecret://${missing}/k` }, store)).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
      message: expect.stringContaining(`omnisecret://${missing}/k`),
    });
    await expect(resolveReferences({ X: `omnisecret://${a}/nope` }, store)).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
      message: expect.stringContaining(`omnisecret://${a}/nope`),
    });
    calls.length = 0;
    await expect(
      resolveReferences({ X: `omnisecret://${a}/user`, Y: "omnisecret://bad/k" }, counting),
    ).rejects.toMatchObject({ code: "E_INVALID_REFERENCE" });
    expect(calls).toEqual([]);
    await store.close();
  });
});
