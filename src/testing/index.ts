/**
 * The shared contract suite: the behaviour every adapter must have, written once and run
 * against every built-in adapter. Export it to test your own:
 *
 * ```ts
 * import { testSecretsAdapter } from "omnisecret/testing";
 * testSecretsAdapter("my adapter", { createAdapter: ({ prefix }) => new MyAdapter({ prefix }) });
 * ```
 *
 * It needs vitest (`describe`, `it`, `expect` are imported from it). Each test builds a fresh
 * adapter with a fresh random prefix and uses fresh random UUIDs, so runs against a shared
 * server never see each other's secrets.
 */
import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import type { AdapterContext, AnySecretsAdapter, SecretsAdapter, SecretValues, SecretVersion } from "../contract.js";
import { isSecretStoreError, type SecretStoreError, type SecretStoreErrorCode } from "../errors.js";
import { MAX_VERSION_TOKEN_LENGTH } from "../kit/version-token.js";
import { contractAdapter, resolveCapabilities } from "../legacy-adapter.js";
import type { CacheOptions } from "../read-cache.js";
import { SecretStore } from "../secret-store.js";
import { probeReads, type ReadProbe } from "./watch-probe.js";

export { type BackupStoreModelOptions, testBackupStoreModel } from "./backup-model.js";
export { type FaultOptions, type FaultyAdapter, withFaults } from "./faults.js";
export { DEFAULT_MODEL_SEED, type SecretsAdapterModelOptions, testSecretsAdapterModel } from "./model.js";

export interface SecretsAdapterSuiteOptions {
  /** Builds a fresh adapter for one test. Put `context.prefix` in front of the names it uses. */
  createAdapter: (context: AdapterContext) => AnySecretsAdapter | Promise<AnySecretsAdapter>;
  /** Timeout of each test, for servers that retry. @default 30000 */
  timeoutMs?: number;
  /**
   * How many stores of one id race in the concurrency test.
   * @default 20
   */
  concurrentStores?: number;
  /**
   * Runs the suite with the read cache on, with these options. Adds a test that a write through
   * a second store (as another process would make it) shows only once the cached entry expires.
   * @default off
   */
  cache?: CacheOptions;
  /**
   * Whether two adapters built with the same prefix see the same secrets, as two processes on
   * one server do; the cache's second-store test needs it, and the watch tests write through a
   * second store with it (through the watching store itself without it).
   * @default true
   */
  sharedStorage?: boolean;
  /**
   * Adds the version tests, for an adapter with `capabilities.versions` built with this
   * `keepVersions` (pass the adapter's own setting): reads of "previous" and of tokens, pruning
   * beyond `keepVersions`, rollback, a fresh history after delete, token checks before any
   * request, and `listSecretVersions`.
   * @default off
   */
  versions?: { readonly keepVersions: number };
}

/** Builds values whose `JSON.stringify` is exactly `bytes` UTF-8 bytes, with multi-byte characters in it. */
export function valuesOfSerializedSize(bytes: number): SecretValues {
  const overhead = Buffer.byteLength(JSON.stringify({ k: "" }), "utf8");
  const payload = bytes - overhead;
  if (payload < 0) throw new RangeError(`cannot build values of ${bytes} bytes`);
  const twoByteChars = Math.floor(payload / 4);
  return { k: "é".repeat(twoByteChars) + "a".repeat(payload - 2 * twoByteChars) };
}

/** A value that is easy to spot in any text it leaks into. */
export function markedSecretValue(): string {
  return `s3cr3t-${randomUUID()}`;
}

export function testSecretsAdapter(name: string, options: SecretsAdapterSuiteOptions): void {
  const timeout = options.timeoutMs ?? 30_000;
  const concurrentStores = options.concurrentStores ?? 20;
  const cache = options.cache;

  describe(`SecretsAdapter contract: ${name}${cache ? " (read cache on)" : ""}`, () => {
    const opened: SecretStore[] = [];

    async function openStore(
      prefix = `ct-${randomUUID().slice(0, 8)}`,
      cacheOptions: CacheOptions | undefined = cache,
    ): Promise<SecretStore> {
      const adapter = await options.createAdapter({ prefix });
      const store = SecretStore.fromAdapter(adapter, { prefix, cache: cacheOptions });
      opened.push(store);
      return store;
    }

    afterEach(async () => {
      // Remove what the test left behind, so a shared server does not fill up.
      for (const store of opened.splice(0)) {
        try {
          for await (const id of store.listSecretIds()) await store.deleteSecretValues(id).catch(() => undefined);
        } catch {
          // Adapters without listSecretIds leave their test secrets; each test used its own prefix.
        }
        await store.close();
      }
    }, timeout);

    async function expectCode(promise: Promise<unknown>, code: SecretStoreErrorCode): Promise<SecretStoreError> {
      const error = await promise.then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isSecretStoreError(error), `expected a SecretStoreError with code ${code}, got ${String(error)}`).toBe(
        true,
      );
      expect((error as SecretStoreError).code).toBe(code);
      return error as SecretStoreError;
    }

    it("stores and reads back values", { timeout }, async () => {
      const store = await openStore();
      const id = randomUUID();
      await store.storeSecretValues(id, { username: "admin", password: "hunter2" });
      expect(await store.getSecretValues(id)).toEqual({ username: "admin", password: "hunter2" });
    });

    it("takes a caller's signal: a live one changes nothing; an aborted one ends the call with its reason", {
      timeout,
    }, async () => {
      const store = await openStore();
      const id = randomUUID();
      const { signal } = new AbortController();
      await store.storeSecretValues(id, { a: "1" }, { signal });
      await store.updateSecretValues(id, { a: "2" }, { signal });
      expect(await store.getSecretValues(id, { signal })).toEqual({ a: "2" });
      const reason = new Error("the caller gave up");
      const aborted = AbortSignal.abort(reason);
      await expect(store.updateSecretValues(id, { a: "3" }, { signal: aborted })).rejects.toBe(reason);
      await expect(store.deleteSecretValues(id, { signal: aborted })).rejects.toBe(reason);
      await expect(store.getSecretValues(id, { signal: aborted })).rejects.toBe(reason);
      expect(await store.getSecretValues(id)).toEqual({ a: "2" });
      await store.deleteSecretValues(id, { signal });
      await expectCode(store.getSecretValues(id, { signal }), "E_SECRET_NOT_FOUND");
    });

    it("keeps unicode keys and values intact", { timeout }, async () => {
      const store = await openStore();
      const id = randomUUID();
      const values = { "clé-ключ-鍵": "välue 🔐 значение 値", "emoji 🎉": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", rtl: "مرحبا" };
      await store.storeSecretValues(id, values);
      expect(await store.getSecretValues(id)).toEqual(values);
    });

    it("keeps quotes, newlines, backslashes and JSON inside values intact", { timeout }, async () => {
      const store = await openStore();
      const id = randomUUID();
      const values = {
        quotes: `it's "quoted" \`and\` 'single'`,
        newlines: "line one\nline two\r\n\ttabbed",
        json: JSON.stringify({ nested: { a: [1, "two", null] }, s: 'x"y' }),
        backslashes: "C:\\path\\to\\file \\n not a newline",
        control: "nul\u0000bell\u0007",
        'key with spaces and "quotes"': "v",
      };
      // An object literal's __proto__ sets the prototype, so build the intended own key explicitly.
      const withProtoKey = Object.fromEntries([...Object.entries(values), ["__proto__", "own key"]]);
      await store.storeSecretValues(id, withProtoKey);
      const read = await store.getSecretValues(id);
      expect(read).toEqual(withProtoKey);
      expect(Object.getOwnPropertyNames(read)).toContain("__proto__");
      expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
    });

    it("stores an empty map", { timeout }, async () => {
      const store = await openStore();
      const id = randomUUID();
      await store.storeSecretValues(id, {});
      expect(await store.getSecretValues(id)).toEqual({});
    });

    it("refuses to store an existing id and keeps the stored values", { timeout }, async () => {
      const store = await openStore();
      const id = randomUUID();
      await store.storeSecretValues(id, { first: "1" });
      const error = await expectCode(store.storeSecretValues(id, { second: "2" }), "E_SECRET_EXISTS");
      expect(error.secretId).toBe(id);
      expect(await store.getSecretValues(id)).toEqual({ first: "1" });
    });

    it("reports a missing id as not found on get, update and delete, and update does not create", {
      timeout,
    }, async () => {
      const store = await openStore();
      const id = randomUUID();
      expect((await expectCode(store.getSecretValues(id), "E_SECRET_NOT_FOUND")).secretId).toBe(id);
      await expectCode(store.updateSecretValues(id, { a: "b" }), "E_SECRET_NOT_FOUND");
      await expectCode(store.deleteSecretValues(id), "E_SECRET_NOT_FOUND");
      await expectCode(store.getSecretValues(id), "E_SECRET_NOT_FOUND");
    });

    it("replaces the whole map on update", { timeout }, async () => {
      const store = await openStore();
      const id = randomUUID();
      await store.storeSecretValues(id, { keep: "old", drop: "old" });
      await store.updateSecretValues(id, { keep: "new", added: "new" });
      expect(await store.getSecretValues(id)).toEqual({ keep: "new", added: "new" });
      await store.updateSecretValues(id, {});
      expect(await store.getSecretValues(id)).toEqual({});
    });

    it("deletes for good, so the same id can be stored again at once", { timeout }, async () => {
      const store = await openStore();
      const id = randomUUID();
      await store.storeSecretValues(id, { generation: "1" });
      await store.deleteSecretValues(id);
      await expectCode(store.getSecretValues(id), "E_SECRET_NOT_FOUND");
      await store.storeSecretValues(id, { generation: "2" });
      expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
      await store.deleteSecretValues(id);
      await expectCode(store.deleteSecretValues(id), "E_SECRET_NOT_FOUND");
    });

    it("stores values exactly at the size limit and rejects one byte more without storing anything", {
      timeout,
    }, async () => {
      const store = await openStore();
      const limit = store.maxValueBytes;
      const atLimit = valuesOfSerializedSize(limit);
      const overLimit = valuesOfSerializedSize(limit + 1);
      expect(Buffer.byteLength(JSON.stringify(atLimit), "utf8")).toBe(limit);

      const fits = randomUUID();
      await store.storeSecretValues(fits, atLimit);
      expect(await store.getSecretValues(fits)).toEqual(atLimit);

      const tooLarge = randomUUID();
      const error = await expectCode(store.storeSecretValues(tooLarge, overLimit), "E_SECRET_TOO_LARGE");
      expect(error.message).toContain(String(limit));
      await expectCode(store.getSecretValues(tooLarge), "E_SECRET_NOT_FOUND");

      await expectCode(store.updateSecretValues(fits, overLimit), "E_SECRET_TOO_LARGE");
      expect(await store.getSecretValues(fits)).toEqual(atLimit);
    });

    it("hands out copies: changing a passed or returned map changes nothing stored", { timeout }, async () => {
      const store = await openStore();
      const id = randomUUID();
      const input = { a: "1" };
      await store.storeSecretValues(id, input);
      input.a = "changed after store";
      const first = await store.getSecretValues(id);
      expect(first).toEqual({ a: "1" });
      first.a = "changed after get";
      (first as Record<string, string>).extra = "x";
      expect(await store.getSecretValues(id)).toEqual({ a: "1" });
      expect(await store.getSecretValues(id)).not.toBe(await store.getSecretValues(id));
    });

    it(`settles ${concurrentStores} concurrent stores of one id as the adapter promises`, { timeout }, async () => {
      const adapter = await options.createAdapter({ prefix: `ct-${randomUUID().slice(0, 8)}` });
      const atomic = resolveCapabilities(contractAdapter(adapter).capabilities).atomicCreate;
      await adapter.close?.();
      const store = await openStore();
      const id = randomUUID();
      const results = await Promise.allSettled(
        Array.from({ length: concurrentStores }, (_, index) => store.storeSecretValues(id, { writer: String(index) })),
      );
      const winners = results.flatMap((result, index) => (result.status === "fulfilled" ? [index] : []));
      for (const result of results) {
        if (result.status === "rejected") expect((result.reason as SecretStoreError).code).toBe("E_SECRET_EXISTS");
      }
      const stored = await store.getSecretValues(id);
      if (atomic) {
        // Exactly one wins, and its values are the ones stored.
        expect(winners).toHaveLength(1);
        expect(stored).toEqual({ writer: String(winners[0]) });
      } else {
        // No conditional create: several may succeed, but the stored map is one winner's, whole.
        expect(winners.length).toBeGreaterThanOrEqual(1);
        expect(winners.map((index) => ({ writer: String(index) }))).toContainEqual(stored);
      }
    });

    it("lists exactly the ids it stores, and none of another prefix", { timeout }, async () => {
      const store = await openStore();
      const other = await openStore();
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      for (const id of ids) await store.storeSecretValues(id, { id });
      const foreign = randomUUID();
      await other.storeSecretValues(foreign, { other: "prefix" });
      await store.deleteSecretValues(ids[2] as string);

      const listed: string[] = [];
      for await (const id of store.listSecretIds()) listed.push(id);
      expect(listed.sort()).toEqual(ids.slice(0, 2).sort());
    });

    it("treats an uppercase spelling of an id as the same secret", { timeout }, async () => {
      const store = await openStore();
      const id = randomUUID();
      await store.storeSecretValues(id.toUpperCase(), { case: "upper" });
      expect(await store.getSecretValues(id)).toEqual({ case: "upper" });
      await expectCode(store.storeSecretValues(id, { case: "lower" }), "E_SECRET_EXISTS");
      const listed: string[] = [];
      for await (const listedId of store.listSecretIds()) listed.push(listedId);
      expect(listed).toEqual([id]);
      await store.deleteSecretValues(id.toUpperCase());
      await expectCode(store.getSecretValues(id), "E_SECRET_NOT_FOUND");
    });

    it("rejects bad input before storing anything", { timeout }, async () => {
      const store = await openStore();
      const id = randomUUID();
      await expectCode(store.storeSecretValues("not-a-uuid", { a: "b" }), "E_INVALID_SECRET_ID");
      await expectCode(store.getSecretValues(`${id}x`), "E_INVALID_SECRET_ID");
      await expectCode(store.storeSecretValues(id, { a: 1 } as unknown as SecretValues), "E_INVALID_SECRET_VALUES");
      await expectCode(store.storeSecretValues(id, { "": "empty key" }), "E_INVALID_SECRET_VALUES");
      await expectCode(store.storeSecretValues(id, ["a"] as unknown as SecretValues), "E_INVALID_SECRET_VALUES");
      await expectCode(store.storeSecretValues(id, null as unknown as SecretValues), "E_INVALID_SECRET_VALUES");
      await expectCode(store.getSecretValues(id), "E_SECRET_NOT_FOUND");
    });

    it("never puts a value into an error message or its inspect output", { timeout }, async () => {
      const store = await openStore();
      const id = randomUUID();
      const secret = markedSecretValue();
      await store.storeSecretValues(id, { password: secret });
      const errors = [
        await expectCode(store.storeSecretValues(id, { password: secret }), "E_SECRET_EXISTS"),
        await expectCode(store.updateSecretValues(randomUUID(), { password: secret }), "E_SECRET_NOT_FOUND"),
        await expectCode(store.storeSecretValues(secret as string, { password: secret }), "E_INVALID_SECRET_ID"),
        await expectCode(store.getSecretValues(secret), "E_INVALID_SECRET_ID"),
        await expectCode(
          store.storeSecretValues(randomUUID(), { password: secret, n: 5 } as unknown as SecretValues),
          "E_INVALID_SECRET_VALUES",
        ),
        await expectCode(
          store.updateSecretValues(id, { password: secret, pad: "x".repeat(store.maxValueBytes) }),
          "E_SECRET_TOO_LARGE",
        ),
      ];
      for (const error of errors) {
        expect(error.message).not.toContain(secret);
        expect(String(error.stack)).not.toContain(secret);
        expect(inspect(error, { depth: 10 })).not.toContain(secret);
      }
      expect(inspect(store, { depth: 10 })).not.toContain(secret);
    });

    if (options.versions) {
      const keep = options.versions.keepVersions;

      /** A store over a spy of the adapter: the names of the adapter's methods called, in order. */
      async function openSpiedStore(): Promise<{ store: SecretStore; calls: string[] }> {
        const prefix = `ct-${randomUUID().slice(0, 8)}`;
        const adapter = contractAdapter(await options.createAdapter({ prefix }));
        const calls: string[] = [];
        // Calls go to the adapter itself (`this` is the adapter, so private fields work).
        const spy = new Proxy(adapter, {
          get(target, property) {
            const member = Reflect.get(target, property, target) as unknown;
            if (typeof member !== "function") return member;
            // The shape check is no request: not counted.
            if (property === "isVersionToken") return member.bind(target);
            return (...args: unknown[]) => {
              calls.push(String(property));
              return (member as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        }) as SecretsAdapter;
        const store = SecretStore.fromAdapter(spy, { prefix, cache });
        opened.push(store);
        return { store, calls };
      }

      async function versionsOf(store: SecretStore, id: string): Promise<SecretVersion[]> {
        const versions = await store.listSecretVersions(id);
        expect(versions.length, "listSecretVersions lists the current version").toBeGreaterThanOrEqual(1);
        expect(
          versions.filter((version) => version.current),
          "exactly one version is current",
        ).toHaveLength(1);
        expect(versions[0]?.current, "the current version comes first").toBe(true);
        expect(versions[0]?.readable).toBe(true);
        for (let index = 1; index < versions.length; index += 1) {
          const newer = versions[index - 1] as SecretVersion;
          const older = versions[index] as SecretVersion;
          expect(newer.createdAt.getTime(), "newest first").toBeGreaterThanOrEqual(older.createdAt.getTime());
        }
        expect(new Set(versions.map((version) => version.token)).size, "tokens are distinct").toBe(versions.length);
        return versions;
      }

      /** The token of the current version. */
      async function currentToken(store: SecretStore, id: string): Promise<string> {
        return ((await versionsOf(store, id))[0] as SecretVersion).token;
      }

      it(`keeps the latest ${keep} version(s) readable: store A, update B, update C, then rollback`, {
        timeout,
      }, async () => {
        const store = await openStore();
        const id = randomUUID();
        await store.storeSecretValues(id, { v: "A" });
        const tokenA = await currentToken(store, id);
        await expectCode(store.getSecretValues(id, { version: "previous" }), "E_SECRET_NOT_FOUND");
        expect(await store.getSecretValues(id, { version: tokenA })).toEqual({ v: "A" });
        await store.updateSecretValues(id, { v: "B" });
        const tokenB = await currentToken(store, id);
        expect(tokenB).not.toBe(tokenA);
        await store.updateSecretValues(id, { v: "C" });
        const tokenC = await currentToken(store, id);

        expect(await store.getSecretValues(id)).toEqual({ v: "C" });
        expect(await store.getSecretValues(id, { version: "latest" })).toEqual({ v: "C" });
        expect(await store.getSecretValues(id, { version: tokenC })).toEqual({ v: "C" });
        const versions = await versionsOf(store, id);
        const listedA = versions.find((version) => version.token === tokenA);
        if (keep >= 2) {
          expect(await store.getSecretValues(id, { version: "previous" })).toEqual({ v: "B" });
          expect(await store.getSecretValues(id, { version: tokenB })).toEqual({ v: "B" });
          expect(versions.find((version) => version.token === tokenB)?.readable).toBe(true);
        } else {
          const error = await expectCode(store.getSecretValues(id, { version: "previous" }), "E_SECRET_NOT_FOUND");
          expect(error.message).toMatch(/previous|version/);
          await expectCode(store.getSecretValues(id, { version: tokenB }), "E_SECRET_NOT_FOUND");
        }
        if (keep >= 3) {
          expect(await store.getSecretValues(id, { version: tokenA })).toEqual({ v: "A" });
        } else {
          // Pruned: unreadable, and listed (if at all) as unreadable.
          const error = await expectCode(store.getSecretValues(id, { version: tokenA }), "E_SECRET_NOT_FOUND");
          expect(error.message).toMatch(/version/);
          if (listedA !== undefined) expect(listedA.readable).toBe(false);
        }

        if (keep < 2) {
          await expectCode(store.rollbackSecretValues(id), "E_SECRET_NOT_FOUND");
          expect(await store.getSecretValues(id)).toEqual({ v: "C" });
          return;
        }
        await store.rollbackSecretValues(id);
        expect(await store.getSecretValues(id)).toEqual({ v: "B" });
        expect(await store.getSecretValues(id, { version: "previous" })).toEqual({ v: "C" });
        expect(await currentToken(store, id), "a rollback makes a new version").not.toBe(tokenB);
        // A rollback is undone by another.
        await store.rollbackSecretValues(id);
        expect(await store.getSecretValues(id)).toEqual({ v: "C" });
        expect(await store.getSecretValues(id, { version: "previous" })).toEqual({ v: "B" });
      });

      it("deletes every version; a new store of the id starts a fresh history", { timeout }, async () => {
        const store = await openStore();
        const id = randomUUID();
        await store.storeSecretValues(id, { generation: "1", v: "A" });
        const tokens = [await currentToken(store, id)];
        await store.updateSecretValues(id, { generation: "1", v: "B" });
        tokens.push(await currentToken(store, id));
        await store.deleteSecretValues(id);
        for (const version of [...tokens, "previous"]) {
          await expectCode(store.getSecretValues(id, { version }), "E_SECRET_NOT_FOUND");
        }
        await expectCode(store.listSecretVersions(id), "E_SECRET_NOT_FOUND");
        await expectCode(store.rollbackSecretValues(id), "E_SECRET_NOT_FOUND");

        await store.storeSecretValues(id, { generation: "2" });
        const fresh = await versionsOf(store, id);
        expect(fresh.filter((version) => version.readable)).toHaveLength(1);
        await expectCode(store.getSecretValues(id, { version: "previous" }), "E_SECRET_NOT_FOUND");
        for (const token of tokens) {
          // The old secret's tokens never read the new one's versions.
          const error = await expectCode(store.getSecretValues(id, { version: token }), "E_SECRET_NOT_FOUND");
          expect(error.message).toMatch(/version|not found/);
        }
        expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
        await store.updateSecretValues(id, { generation: "2", v: "B" });
        for (const token of tokens)
          await expectCode(store.getSecretValues(id, { version: token }), "E_SECRET_NOT_FOUND");
      });

      it("refuses a version that cannot be one of this provider's before any request", { timeout }, async () => {
        const { store, calls } = await openSpiedStore();
        const id = randomUUID();
        const garbage = [
          "",
          "x".repeat(MAX_VERSION_TOKEN_LENGTH + 1),
          "not a token",
          "../../etc/passwd",
          "previous ",
          "LATEST",
          "1.2.3/4",
          "\u0000",
        ];
        for (const version of garbage) {
          const error = await expectCode(store.getSecretValues(id, { version }), "E_INVALID_VERSION");
          expect((error as SecretStoreError & { field?: string }).field).toBe("version");
        }
        await expectCode(store.getSecretValues(id, { version: 7 as unknown as string }), "E_INVALID_VERSION");
        expect(calls, "no adapter call for a refused version").toEqual([]);
        // A version of the right shape goes to the provider, and a missing secret is not found.
        await store.storeSecretValues(id, { a: "1" });
        const token = await currentToken(store, id);
        calls.length = 0;
        await expectCode(store.getSecretValues(randomUUID(), { version: token }), "E_SECRET_NOT_FOUND");
        await expectCode(store.getSecretValues(randomUUID(), { version: "previous" }), "E_SECRET_NOT_FOUND");
        expect(calls).toEqual(["getSecretValues", "getSecretValues"]);
      });

      it("lists versions newest first with exactly one current; a missing id is not found", { timeout }, async () => {
        const store = await openStore();
        const id = randomUUID();
        await expectCode(store.listSecretVersions(id), "E_SECRET_NOT_FOUND");
        await expectCode(store.listSecretVersions("not-a-uuid"), "E_INVALID_SECRET_ID");
        await store.storeSecretValues(id, { n: "0" });
        const tokens = [await currentToken(store, id)];
        for (let n = 1; n <= keep + 1; n += 1) {
          await store.updateSecretValues(id, { n: String(n) });
          tokens.unshift(await currentToken(store, id));
        }
        const versions = await versionsOf(store, id);
        // The kept ones, newest first, in the order they were made.
        const readable = versions.filter((version) => version.readable).map((version) => version.token);
        expect(readable).toEqual(tokens.slice(0, keep));
        for (const [index, token] of tokens.entries()) {
          const read = store.getSecretValues(id, { version: token });
          if (index < keep) expect(await read).toEqual({ n: String(keep + 1 - index) });
          else await expectCode(read, "E_SECRET_NOT_FOUND");
        }
        // What the caller does to the list changes nothing the store holds.
        (versions[0] as { token: string }).token = "changed";
        expect((await versionsOf(store, id))[0]?.token).toBe(tokens[0]);
      });

      it("reads a version past the read cache: a previous is never stale", { timeout }, async () => {
        const store = await openStore();
        const id = randomUUID();
        await store.storeSecretValues(id, { v: "1" });
        expect(await store.getSecretValues(id)).toEqual({ v: "1" });
        for (const next of ["2", "3", "4"]) {
          await store.updateSecretValues(id, { v: next });
          const previous = store.getSecretValues(id, { version: "previous" });
          if (keep >= 2) expect(await previous).toEqual({ v: String(Number(next) - 1) });
          else await expectCode(previous, "E_SECRET_NOT_FOUND");
          expect(await store.getSecretValues(id)).toEqual({ v: next });
        }
        if (keep >= 2) {
          await store.rollbackSecretValues(id);
          expect(await store.getSecretValues(id)).toEqual({ v: "3" });
          expect(await store.getSecretValues(id, { version: "previous" })).toEqual({ v: "4" });
        }
      });
    }

    if (cache) {
      it("serves copies from the cache and sees its own writes at once", { timeout }, async () => {
        const store = await openStore();
        const id = randomUUID();
        await expectCode(store.getSecretValues(id), "E_SECRET_NOT_FOUND");
        await store.storeSecretValues(id, { v: "1" });
        const first = await store.getSecretValues(id);
        expect(first).toEqual({ v: "1" });
        first.v = "changed by the caller";
        expect(await store.getSecretValues(id)).toEqual({ v: "1" });
        await store.updateSecretValues(id, { v: "2" });
        expect(await store.getSecretValues(id)).toEqual({ v: "2" });
        await store.deleteSecretValues(id);
        await expectCode(store.getSecretValues(id), "E_SECRET_NOT_FOUND");
      });
    }

    /** A store whose reads a probe counts (to know when a watch's poll is over), on a fresh prefix, and a second store on it. */
    async function watchedStores(): Promise<{ store: SecretStore; writer: SecretStore; probe: ReadProbe }> {
      const prefix = `ct-${randomUUID().slice(0, 8)}`;
      const probe = probeReads(await options.createAdapter({ prefix }));
      const store = SecretStore.fromAdapter(probe.adapter, { prefix, cache });
      opened.push(store);
      // Another store on the same storage stands for another process writing.
      const writer = options.sharedStorage === false ? store : await openStore(prefix, undefined);
      return { store, writer, probe };
    }

    it("watch: yields another store's update with its values, a new secret and a delete, nothing for the initial state", {
      timeout,
    }, async () => {
      const { store, writer, probe } = await watchedStores();
      const [kept, later] = [randomUUID(), randomUUID()];
      await writer.storeSecretValues(kept, { v: "1" });
      // A cached entry of the old values must not hide the change: the watch reads fresh.
      expect(await store.getSecretValues(kept)).toEqual({ v: "1" });
      const changes = store.watch([kept, later], { intervalMs: 50 });
      const first = changes.next();
      // The baseline: both ids read once (with revisions: both revisions, then the existing one's
      // values), and no event for what it found.
      const revisions = resolveCapabilities(probe.adapter.capabilities).revision;
      await probe.untilAnswered(probe.answered() + (revisions ? 3 : 2));
      await writer.updateSecretValues(kept, { v: "2", added: "x" });
      expect(await first).toEqual({
        done: false,
        value: { id: kept, kind: "changed", values: { v: "2", added: "x" } },
      });
      await writer.storeSecretValues(later, { n: "new" });
      expect(await changes.next()).toEqual({
        done: false,
        value: { id: later, kind: "created", values: { n: "new" } },
      });
      await writer.deleteSecretValues(kept);
      expect(await changes.next()).toEqual({ done: false, value: { id: kept, kind: "deleted" } });
      await writer.updateSecretValues(later, { n: "newer" });
      for await (const change of changes) {
        expect(change).toEqual({ id: later, kind: "changed", values: { n: "newer" } });
        break;
      }
      // Left by break: ended for good.
      expect(await changes.next()).toEqual({ done: true, value: undefined });
    });

    it("watch: ends on the signal's abort and on the store's close, even while waiting for the next poll", {
      timeout,
    }, async () => {
      const { store, probe } = await watchedStores();
      const id = randomUUID();
      await store.storeSecretValues(id, { a: "1" });
      const hour = 3_600_000;
      const controller = new AbortController();
      const aborted = store.watch([id], { intervalMs: hour, signal: controller.signal });
      const closed = store.watch([id], { intervalMs: hour });
      const pending = [aborted.next(), closed.next()];
      const revisions = resolveCapabilities(probe.adapter.capabilities).revision;
      await probe.untilAnswered(probe.answered() + (revisions ? 4 : 2));
      controller.abort();
      expect(await pending[0]).toEqual({ done: true, value: undefined });
      await store.close();
      expect(await pending[1]).toEqual({ done: true, value: undefined });
      expect(() => store.watch([id])).toThrow(/closed/);
    });

    if (cache && options.sharedStorage !== false) {
      it("shows another store's update only after the cache's TTL", { timeout: timeout + 15_000 }, async () => {
        // On a slow machine the update may take longer than the TTL, and the stale read proves
        // nothing; then the scenario runs again with a doubled TTL, and the test fails if no
        // round could check the stale read at all.
        let checkedStaleRead = false;
        for (let ttlMs = 1_500; ttlMs <= 6_000 && !checkedStaleRead; ttlMs *= 2) {
          const prefix = `ct-${randomUUID().slice(0, 8)}`;
          const reader = await openStore(prefix, { ...cache, ttlMs });
          // A store without a cache stands for another process writing to the same provider.
          const writer = await openStore(prefix, undefined);
          const id = randomUUID();
          await writer.storeSecretValues(id, { v: "old" });
          // Taken before the read that caches: the entry expires no earlier than cachedAt + ttlMs.
          const cachedAt = performance.now();
          expect(await reader.getSecretValues(id)).toEqual({ v: "old" });
          // Taken after it: the entry expires no later than cachedUntil (its TTL starts when the
          // read completes, and a client's first read may take long, e.g. Azure's token challenge).
          const cachedUntil = performance.now() + ttlMs;
          await writer.updateSecretValues(id, { v: "new" });
          const secondRead = await reader.getSecretValues(id);
          if (performance.now() - cachedAt < ttlMs) {
            expect(secondRead).toEqual({ v: "old" });
            checkedStaleRead = true;
          }
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, cachedUntil + 50 - performance.now())));
          expect(await reader.getSecretValues(id)).toEqual({ v: "new" });
        }
        expect(checkedStaleRead, "no round was fast enough to check a read within the TTL").toBe(true);
      });
    }
  });
}
