import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { currentDeadline, type Deadline, deadlineContextActive, withinDeadline } from "./deadline.js";

const limits = (operationTimeoutMs: number) => ({ provider: "test", operationTimeoutMs });

describe("withinDeadline", () => {
  it("hands each operation its own deadline through the async context, across awaits", async () => {
    const seen: [Deadline, Deadline | undefined][] = [];
    const operation = (waitMs: number) =>
      withinDeadline(limits(5_000), { operation: "get" }, async (deadline) => {
        await sleep(waitMs);
        seen.push([deadline, currentDeadline()]);
        await Promise.resolve();
        seen.push([deadline, currentDeadline()]);
      });
    await Promise.all([operation(30), operation(5), operation(15)]);
    expect(seen).toHaveLength(6);
    for (const [given, found] of seen) expect(found).toBe(given);
  });

  it("switches the async context off once no operation's work is alive, and on again for the next", async () => {
    expect(deadlineContextActive()).toBe(false);
    const first = withinDeadline(limits(5_000), { operation: "get" }, async () => {
      expect(deadlineContextActive()).toBe(true);
      await sleep(5);
    });
    const second = withinDeadline(limits(5_000), { operation: "get" }, async () => sleep(30));
    await first;
    // The second operation is still running: the context stays on for it.
    expect(deadlineContextActive()).toBe(true);
    await second;
    await Promise.resolve();
    expect(deadlineContextActive()).toBe(false);
    expect(currentDeadline()).toBeUndefined();
    await withinDeadline(limits(5_000), { operation: "get" }, async (deadline) => {
      await sleep(1);
      expect(currentDeadline()).toBe(deadline);
    });
  });

  it("keeps the deadline for work that outlives it, and switches off only when that work has settled", async () => {
    let foundLate: Deadline | undefined;
    let given: Deadline | undefined;
    let finished!: () => void;
    const lateWorkDone = new Promise<void>((resolve) => {
      finished = resolve;
    });
    const operation = withinDeadline(limits(20), { operation: "get", secretId: "x" }, async (deadline) => {
      given = deadline;
      await sleep(80);
      foundLate = currentDeadline();
      finished();
    });
    await expect(operation).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    expect(given?.signal.aborted).toBe(true);
    expect(deadlineContextActive()).toBe(true);
    await lateWorkDone;
    await sleep(1);
    expect(foundLate).toBe(given);
    expect(deadlineContextActive()).toBe(false);
  });

  it("counts an operation whose function throws before returning a promise as ended", async () => {
    await expect(
      withinDeadline(limits(5_000), { operation: "get" }, () => {
        throw new Error("synchronous");
      }),
    ).rejects.toThrow("synchronous");
    expect(deadlineContextActive()).toBe(false);
  });
});
