import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { type Deadline, withinDeadline, withinDeadlineEach } from "./deadline.js";

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
