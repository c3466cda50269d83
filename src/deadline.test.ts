import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { SecretRead, SecretValues, SecretVersion } from "./contract.js";
import { type Deadline, DeadlineBoundAdapter, untilAborted, withinDeadline, withinDeadlineEach } from "./deadline.js";

const limits = (operationTimeoutMs: number) => ({ provider: "test", operationTimeoutMs });

describe("withinDeadline", () => {
  it("gives each operation its own deadline, which aborts its signal and rejects the operation when it passes", async () => {
    const given: Deadline[] = [];
    const slow = withinDeadline(limits(30), { operation: "get", secretId: "x" }, async (deadline) => {
      given.push(deadline);
      await sleep(200);
    });
    const quick = withinDeadline(limits(5_000), { operation: "get" }, async (deadline) => {
      given.push(deadline);
      return "done";
    });
    expect(await quick).toBe("done");
    await expect(slow).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    expect(given).toHaveLength(2);
    expect(given[0]).not.toBe(given[1]);
    expect(given[0]?.signal.aborted).toBe(true);
    expect(given[1]?.signal.aborted).toBe(false);
    expect(given[0]?.remainingMs()).toBe(0);
    expect(given[1]?.requestTimeoutMs(1_000)).toBeLessThanOrEqual(1_000);
  });

  it("aborts a signal read before the deadline passes, and one first read after it", async () => {
    let early: AbortSignal | undefined;
    let late: Deadline | undefined;
    const readEarly = withinDeadline(limits(20), { operation: "get" }, async (deadline) => {
      early = deadline.signal;
      await sleep(200);
    });
    const readLate = withinDeadline(limits(20), { operation: "get" }, async (deadline) => {
      late = deadline;
      await sleep(200);
    });
    await expect(readEarly).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    await expect(readLate).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    expect(early?.aborted).toBe(true);
    expect(early?.reason).toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    expect(late?.signal.aborted).toBe(true);
    expect(late?.signal.reason).toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
  });

  it("passes on the operation's own failure", async () => {
    const failure = new Error("refused");
    await expect(withinDeadline(limits(5_000), { operation: "get" }, () => Promise.reject(failure))).rejects.toBe(
      failure,
    );
  });

  it("reports an operation whose function throws before returning a promise", async () => {
    await expect(
      withinDeadline(limits(5_000), { operation: "get" }, () => {
        throw new Error("synchronous");
      }),
    ).rejects.toThrow("synchronous");
  });
});

describe("withinDeadline with the caller's signal", () => {
  it("ends the operation with the signal's reason, as it is, and aborts the deadline's signal with it", async () => {
    const controller = new AbortController();
    let given: Deadline | undefined;
    const running = withinDeadline(
      limits(5_000),
      { operation: "get" },
      async (deadline) => {
        given = deadline;
        await sleep(200);
        return "late";
      },
      controller.signal,
    );
    const reason = new DOMException("gave up", "AbortError");
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    expect(given?.signal.aborted).toBe(true);
    expect(given?.signal.reason).toBe(reason);
  });

  it("does not start an operation whose signal has already aborted", async () => {
    let started = false;
    const reason = new Error("already");
    await expect(
      withinDeadline(
        limits(5_000),
        { operation: "get" },
        async () => {
          started = true;
        },
        AbortSignal.abort(reason),
      ),
    ).rejects.toBe(reason);
    expect(started).toBe(false);
  });

  it("leaves no listener on the caller's signal once the operation settled, however it settled", async () => {
    const controller = new AbortController();
    const added: string[] = [];
    const removed: string[] = [];
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((type: string, ...rest: [never, never]) => {
      added.push(type);
      add(type, ...rest);
    }) as typeof signal.addEventListener;
    signal.removeEventListener = ((type: string, ...rest: [never, never]) => {
      removed.push(type);
      remove(type, ...rest);
    }) as typeof signal.removeEventListener;
    await withinDeadline(limits(5_000), { operation: "get" }, async () => "ok", signal);
    await expect(
      withinDeadline(limits(5_000), { operation: "get" }, () => Promise.reject(new Error("no")), signal),
    ).rejects.toThrow("no");
    await expect(withinDeadline(limits(10), { operation: "get" }, () => sleep(200), signal)).rejects.toMatchObject({
      code: "E_PROVIDER_UNAVAILABLE",
    });
    expect(added).toEqual(["abort", "abort", "abort"]);
    expect(removed).toEqual(["abort", "abort", "abort"]);
  });

  it("untilAborted hands back the work itself without a signal, and rejects with the reason once it aborts", async () => {
    const work = Promise.resolve(1);
    expect(untilAborted(work, undefined)).toBe(work);
    const controller = new AbortController();
    const waiting = untilAborted(sleep(200), controller.signal);
    controller.abort("stop");
    await expect(waiting).rejects.toBe("stop");
  });
});

describe("DeadlineBoundAdapter", () => {
  /** An adapter whose every request waits `delayMs`, and which records the deadlines it was given. */
  class SlowAdapter extends DeadlineBoundAdapter {
    readonly provider = "slow";
    readonly capabilities = { list: true };
    readonly deadlines: Deadline[] = [];
    constructor(readonly delayMs: number) {
      super(limits(5_000));
    }
    async #request(deadline: Deadline): Promise<void> {
      this.deadlines.push(deadline);
      await sleep(this.delayMs, undefined, { signal: deadline.signal }).catch(() => undefined);
      deadline.signal.throwIfAborted();
    }
    protected async storeValues(_id: string, _values: SecretValues, _serialized: string, deadline: Deadline) {
      await this.#request(deadline);
    }
    protected async readValues(_id: string, deadline: Deadline, _version?: string): Promise<SecretValues | SecretRead> {
      await this.#request(deadline);
      return { a: "b" };
    }
    protected async updateValues(_id: string, _values: SecretValues, _serialized: string, deadline: Deadline) {
      await this.#request(deadline);
    }
    protected async deleteValues(_id: string, deadline: Deadline) {
      await this.#request(deadline);
    }
    protected async *listIds(stepDeadline: () => Deadline) {
      await this.#request(stepDeadline());
      yield "x";
    }
  }

  it("answers a get as a SecretRead, and hands the caller's abort to the request through the deadline", async () => {
    const adapter = new SlowAdapter(1);
    expect(await adapter.getSecretValues("x", {})).toEqual({ values: { a: "b" } });
    const slow = new SlowAdapter(5_000);
    const controller = new AbortController();
    const reason = new DOMException("gave up", "AbortError");
    const operations = [
      slow.storeSecretValues("x", {}, "{}", { signal: controller.signal }),
      slow.getSecretValues("x", { signal: controller.signal }),
      slow.updateSecretValues("x", {}, "{}", { signal: controller.signal }),
      slow.deleteSecretValues("x", { signal: controller.signal }),
    ];
    await sleep(5);
    controller.abort(reason);
    for (const operation of operations) await expect(operation).rejects.toBe(reason);
    expect(slow.deadlines.map((deadline) => deadline.signal.reason)).toEqual([reason, reason, reason, reason]);
    const listing = (async () => {
      for await (const _ of slow.listSecretIds({ signal: AbortSignal.abort(reason) })) {
        // never reached
      }
    })();
    await expect(listing).rejects.toBe(reason);
  });

  it("refuses the optional calls a subclass does not implement", async () => {
    const adapter = new SlowAdapter(1);
    await expect(adapter.getManySecretValues(["x"], {})).rejects.toThrow("slow adapter has no getManySecretValues");
    await expect(adapter.deleteSecretValuesIfUnchanged("x", {}, {})).rejects.toThrow(
      "slow adapter has no deleteSecretValuesIfUnchanged",
    );
    await expect(adapter.listSecretVersions("x", {})).rejects.toThrow("slow adapter has no listSecretVersions");
  });

  it("hands a get's version to readValues (none for latest), passes a SecretRead on, and lists versions under a deadline", async () => {
    const asked: Array<string | undefined> = [];
    const listed: SecretVersion[] = [{ token: "t.1", createdAt: new Date(0), current: true, readable: true }];
    class Versioned extends SlowAdapter {
      override readonly capabilities = { list: true, versions: true };
      protected override async readValues(
        id: string,
        _deadline: Deadline,
        version?: string,
      ): Promise<SecretValues | SecretRead> {
        asked.push(version);
        // A secret's values are strings: a map with a "values" key is still a map, not a SecretRead.
        if (id === "map") return { values: "a string" } satisfies SecretValues;
        return { values: { a: "b" }, version: version ?? "t.1" };
      }
      protected override async listVersions(_id: string, deadline: Deadline) {
        expect(deadline.remainingMs()).toBeGreaterThan(0);
        return listed;
      }
    }
    const adapter = new Versioned(1);
    expect(await adapter.getSecretValues("x", {})).toEqual({ values: { a: "b" }, version: "t.1" });
    expect(await adapter.getSecretValues("x", { version: "latest" })).toEqual({ values: { a: "b" }, version: "t.1" });
    expect(await adapter.getSecretValues("x", { version: "previous" })).toMatchObject({ version: "previous" });
    expect(await adapter.getSecretValues("x", { version: "t.0" })).toMatchObject({ version: "t.0" });
    expect(await adapter.getSecretValues("map", {})).toEqual({ values: { values: "a string" } });
    expect(asked).toEqual([undefined, undefined, "previous", "t.0", undefined]);
    expect(await adapter.listSecretVersions("x", {})).toBe(listed);
  });
});

describe("withinDeadlineEach", () => {
  it("reads each step under a deadline of its own, which the source finds through stepDeadline()", async () => {
    const seen: Deadline[] = [];
    async function* pages(stepDeadline: () => Deadline) {
      for (let page = 0; page < 3; page += 1) {
        await sleep(1);
        seen.push(stepDeadline());
        yield page;
      }
    }
    const read: number[] = [];
    for await (const page of withinDeadlineEach(limits(5_000), "list", pages)) read.push(page);
    expect(read).toEqual([0, 1, 2]);
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
  });

  it("ends a step that outlives its deadline with E_PROVIDER_UNAVAILABLE", async () => {
    async function* stuck(stepDeadline: () => Deadline) {
      yield 1;
      await sleep(200);
      stepDeadline();
      yield 2;
    }
    const read: number[] = [];
    await expect(
      (async () => {
        for await (const value of withinDeadlineEach(limits(30), "list", stuck)) read.push(value);
      })(),
    ).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    expect(read).toEqual([1]);
  });
});
