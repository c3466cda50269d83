/**
 * Issue 13: each operation, on the default configuration, sends exactly the fewest requests the
 * provider allows (bench/lib/minimums.ts, which says why each number is the minimum), counted on
 * the wire by the benchmark's counters, so a change that adds a request fails here. A missing id
 * costs no more than the minimum either.
 *
 * The providers are those whose servers the harness started (OMNISECRET_TEST_SERVERS, or all).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countGrpcCalls, isServerFault, recordRequests, requestLog } from "../bench/lib/counters.js";
import { MINIMUMS, type Operation } from "../bench/lib/minimums.js";
import { runCli } from "../src/cli/program.js";
import { formatReference, SecretStore } from "../src/index.js";
import { createAdapterFromConfig } from "../src/secret-store.js";
import { probeReads } from "../src/testing/watch-probe.js";
import { requestedProviders } from "./harness/index.js";
import { serverConfig } from "./server-config.js";
import { providerTestSides } from "./servers/index.js";

const providers = requestedProviders().filter((provider) =>
  providerTestSides.some((side) => side.provider === provider && side.server),
);

/**
 * The requests `operation` sent; a poll repeated back to back counts once where the minimum says
 * it polls. A request the server answered with a 5xx is its failure, retried by the SDK, not a
 * request the adapter chose: left out (see bench/lib/counters.ts).
 */
async function requestsOf(provider: string, operation: Operation, run: () => Promise<unknown>): Promise<string[]> {
  recordRequests();
  await run();
  const sent = requestLog().filter((request) => !isServerFault(request));
  if (!MINIMUMS[provider]?.[operation].polls) return sent;
  return sent.filter((request, index) => index === 0 || request !== sent[index - 1]);
}

for (const provider of providers) {
  describe(`${provider}: requests per operation, default config`, () => {
    let store: SecretStore;
    const minimum = (operation: Operation) => MINIMUMS[provider]?.[operation].requests;

    beforeAll(async () => {
      if (provider === "gcp") countGrpcCalls();
      store = await SecretStore.create({ ...serverConfig(provider), prefix: `rc-${randomUUID().slice(0, 8)}` });
      // The first requests of a client do one-time work (Azure's 401 challenge and token, a
      // provider's once-per-client lookups): not what an operation costs.
      const warmUp = randomUUID();
      await store.storeSecretValues(warmUp, { warm: "up" });
      await store.updateSecretValues(warmUp, { warm: "again" });
      await store.getSecretValues(warmUp);
      await store.deleteSecretValues(warmUp);
    });
    afterAll(async () => {
      await store?.close();
    });

    it("has a minimum for every operation", () => {
      for (const operation of ["store", "get", "update", "delete"] as const) {
        expect(minimum(operation), operation).toBeGreaterThan(0);
      }
    });

    it("store, get, update and delete each send the minimum", async () => {
      const id = randomUUID();
      const sent: Record<Operation, string[]> = {
        store: await requestsOf(provider, "store", () => store.storeSecretValues(id, { a: "1" })),
        get: await requestsOf(provider, "get", () => store.getSecretValues(id)),
        update: await requestsOf(provider, "update", () => store.updateSecretValues(id, { a: "2" })),
        delete: await requestsOf(provider, "delete", () => store.deleteSecretValues(id)),
      };
      const counts = Object.fromEntries(
        Object.entries(sent).map(([operation, requests]) => [operation, requests.length]),
      );
      expect(counts, JSON.stringify(sent, null, 2)).toEqual({
        store: minimum("store"),
        get: minimum("get"),
        update: minimum("update"),
        delete: minimum("delete"),
      });
      await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    });

    it("a missing id costs no more than the minimum, and is reported not found", async () => {
      const id = randomUUID();
      const notFound = { code: "E_SECRET_NOT_FOUND" };
      const get = await requestsOf(provider, "get", () =>
        expect(store.getSecretValues(id)).rejects.toMatchObject(notFound),
      );
      const update = await requestsOf(provider, "update", () =>
        expect(store.updateSecretValues(id, { a: "1" })).rejects.toMatchObject(notFound),
      );
      const del = await requestsOf(provider, "delete", () =>
        expect(store.deleteSecretValues(id)).rejects.toMatchObject(notFound),
      );
      expect(get.length, get.join("\n")).toBeLessThanOrEqual(minimum("get") ?? 0);
      expect(update.length, update.join("\n")).toBeLessThanOrEqual(minimum("update") ?? 0);
      expect(del.length, del.join("\n")).toBeLessThanOrEqual(minimum("delete") ?? 0);
    });
  });
}

/**
 * Issue 25: a watch's poll with nothing changed sends, per id, one revision request where the
 * provider has a call that reads no value, and one read of the value where it has none (azure).
 * Counted over three polls of two ids after the baseline; the probe says when a poll is over.
 */
const WATCH_POLL_REQUESTS: Readonly<Record<string, { requests: number; readsValue: boolean }>> = {
  aws: { requests: 1, readsValue: false },
  vault: { requests: 1, readsValue: false },
  gcp: { requests: 1, readsValue: false },
  azure: { requests: 1, readsValue: true },
};

/** A request that reads a value, as the request log names it (aws by its target); on azure every GET of a secret does. */
const VALUE_READ = /AccessSecretVersion|GetSecretValue|\/data\/|GET \/secrets\//;

for (const provider of providers) {
  describe(`${provider}: a watch poll with nothing changed`, () => {
    it("sends the expected requests per id, and reads a value only where the provider must", async () => {
      const expected = WATCH_POLL_REQUESTS[provider];
      expect(expected, `no watch cost stated for ${provider}`).toBeDefined();
      if (provider === "gcp") countGrpcCalls();
      const config = { ...serverConfig(provider), prefix: `rcw-${randomUUID().slice(0, 8)}` };
      const { adapter } = await createAdapterFromConfig(config);
      const probe = probeReads(adapter);
      const store = SecretStore.fromAdapter(probe.adapter, { prefix: config.prefix });
      const ids = [randomUUID(), randomUUID()];
      try {
        for (const id of ids) await store.storeSecretValues(id, { a: "1" });
        const stop = new AbortController();
        const changes = store.watch(ids, { intervalMs: 20, concurrency: 1, signal: stop.signal });
        const pending = changes.next();
        // The baseline: with revisions, each id's revision and values; without, its values.
        const baseline = expected?.readsValue ? ids.length : 2 * ids.length;
        await probe.untilAnswered(baseline);
        recordRequests();
        const polls = 3;
        await probe.untilAnswered(baseline + ids.length * polls);
        // Read at once: the next poll starts only intervalMs after this one ended.
        const sent = requestLog().filter((request) => !isServerFault(request));
        // Not return(): an async generator runs it only after the next() in flight settles.
        stop.abort();
        expect(await pending).toEqual({ done: true, value: undefined });
        expect(sent.length, sent.join("\n")).toBe(polls * ids.length * (expected?.requests ?? 0));
        // The revision path never reads the value.
        const valueReads = sent.filter((request) => VALUE_READ.test(request));
        if (!expected?.readsValue) expect(valueReads, sent.join("\n")).toEqual([]);
      } finally {
        for (const id of ids) await store.deleteSecretValues(id).catch(() => undefined);
        await store.close();
      }
    });
  });
}

/** Resolves once `done()` holds, looking again every few milliseconds (a wait, not an assertion on time). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await sleep(5);
}

/**
 * `run --watch` polls through `store.watch`, starting from the values it read for its command: an
 * interval with nothing changed costs the revision check of each secret and no value read (azure
 * excepted, whose check is a read); an update costs one read of the values, and restarts the
 * command only if a variable it gets changed (here a reference's key). The CLI runs in this
 * process, so its requests are on the log; its command is a real process.
 */
for (const provider of providers) {
  describe(`${provider}: run --watch`, () => {
    it("sends only the revision checks while nothing changes, reads the values once after an update, restarts only for a variable's change", async () => {
      const expected = WATCH_POLL_REQUESTS[provider];
      expect(expected, `no watch cost stated for ${provider}`).toBeDefined();
      if (provider === "gcp") countGrpcCalls();
      const config = { ...serverConfig(provider), prefix: `rcr-${randomUUID().slice(0, 8)}` };
      const configFile = join(mkdtempSync(join(tmpdir(), "omnisecret-run-watch-")), "config.json");
      writeFileSync(configFile, JSON.stringify(config));
      const store = await SecretStore.create(config);
      const id = randomUUID();
      await store.storeSecretValues(id, { V: `before-${randomUUID()}`, OTHER: "1" });
      // Says which value it got and its pid (for the test to end it); on SIGTERM says so and exits 0
      // (run passes its output on before it starts the next command).
      const script =
        "console.log('pid ' + process.pid + ' ' + (process.env.V.startsWith('after') ? 'NEW' : 'OLD')); process.on('SIGTERM', () => { console.log('stopping'); process.exit(0); }); setInterval(() => {}, 1000);";
      let stdout = "";
      let stderr = "";
      const sent = () => requestLog().filter((request) => !isServerFault(request));
      const valueReads = (log: readonly string[]) => log.filter((request) => VALUE_READ.test(request)).length;
      try {
        recordRequests();
        // The command gets V through a reference: OTHER, of the same secret, is none of its variables.
        const running = runCli(["run", "--watch", "0.02", "--", process.execPath, "-e", script], {
          stdout: (text) => {
            stdout += text;
          },
          stderr: (text) => {
            stderr += text;
          },
          readStdin: async () => "",
          env: { OMNISECRET_CONFIG: configFile, V: formatReference(id, "V") },
        });
        // run's read, the watch's first poll at once (the revision, then the values compared with
        // run's, so an update in between would be seen), then three intervals with nothing changed.
        await until(() => stdout.includes("OLD") && sent().length >= 3 + 3);
        const unchanged = sent();
        // On azure every check is a read (and a client's first request brings its token
        // requests): only the restart below is checked there.
        if (!expected?.readsValue) {
          expect(valueReads(unchanged), unchanged.join("\n")).toBe(2);
          // After the first poll's read: revision checks only.
          const afterStartup = unchanged.slice(unchanged.findLastIndex((request) => VALUE_READ.test(request)) + 1);
          expect(afterStartup.length, unchanged.join("\n")).toBeGreaterThanOrEqual(3);
          expect(valueReads(afterStartup), unchanged.join("\n")).toBe(0);
        }
        // OTHER changes: the watch reads the values, and the command keeps running. Waited for
        // until a request follows a read of the new values (on azure, where every request reads,
        // three requests: one of them is such a read, and one follows it).
        const kept = (await store.getSecretValues(id)).V as string;
        await store.updateSecretValues(id, { V: kept, OTHER: "2" });
        recordRequests();
        await until(() => {
          const log = sent();
          const read = log.findIndex((request) => VALUE_READ.test(request));
          return expected?.readsValue ? log.length >= 3 : read >= 0 && read < log.length - 1;
        });
        if (!expected?.readsValue) expect(valueReads(sent()), sent().join("\n")).toBe(1);
        expect(stdout).toMatch(/^pid \d+ OLD\n$/);
        await store.updateSecretValues(id, { V: `after-${randomUUID()}`, OTHER: "2" });
        recordRequests();
        await until(() => stdout.includes("NEW"));
        const beforeRestart = sent().length;
        await until(() => sent().length >= beforeRestart + 3);
        const changed = sent();
        // The read of the new values; the watch goes on across the restart, with no read of its own.
        if (!expected?.readsValue) {
          expect(valueReads(changed), changed.join("\n")).toBeLessThanOrEqual(1);
          expect(valueReads(changed.slice(beforeRestart)), changed.join("\n")).toBe(0);
        }
        const pid = Number(/pid (\d+) NEW/.exec(stdout)?.[1]);
        process.kill(pid, "SIGTERM");
        expect(await running).toBe(0);
        expect(stdout).toMatch(/^pid \d+ OLD\nstopping\npid \d+ NEW\nstopping\n$/);
        expect(stderr).toBe("");
      } finally {
        await store.deleteSecretValues(id).catch(() => undefined);
        await store.close();
      }
    });
  });
}
