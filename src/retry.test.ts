import { describe, expect, it } from "vitest";
import { retryWithBackoff } from "./retry.js";

const fast = { attempts: 4, initialDelayMs: 1, maxDelayMs: 2 };

describe("retryWithBackoff", () => {
  it("retries what shouldRetry accepts until it succeeds", async () => {
    let calls = 0;
    const result = await retryWithBackoff(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error("busy");
        return "done";
      },
      () => true,
      fast,
    );
    expect(result).toBe("done");
    expect(calls).toBe(3);
  });

  it("gives up after the attempts and throws the last error itself", async () => {
    let calls = 0;
    const failure = new Error("still busy");
    await expect(
      retryWithBackoff(
        async () => {
          calls += 1;
          throw failure;
        },
        () => true,
        fast,
      ),
    ).rejects.toBe(failure);
    expect(calls).toBe(4);
  });

  it("does not retry an error shouldRetry refuses", async () => {
    let calls = 0;
    const failure = new Error("not found");
    await expect(
      retryWithBackoff(
        async () => {
          calls += 1;
          throw failure;
        },
        () => false,
        fast,
      ),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);
  });

  it("asks for a signal given as a function only when a retry is due", async () => {
    let asked = 0;
    const signal = () => {
      asked += 1;
      return new AbortController().signal;
    };
    expect(
      await retryWithBackoff(
        async () => "done",
        () => true,
        { ...fast, signal },
      ),
    ).toBe("done");
    expect(asked).toBe(0);
    let calls = 0;
    const result = await retryWithBackoff(
      async () => {
        calls += 1;
        if (calls < 2) throw new Error("busy");
        return "done";
      },
      () => true,
      { ...fast, signal },
    );
    expect(result).toBe("done");
    expect(asked).toBe(1);
  });

  it("stops retrying once the signal is aborted, with its reason", async () => {
    const controller = new AbortController();
    const reason = new Error("deadline");
    let calls = 0;
    await expect(
      retryWithBackoff(
        async () => {
          calls += 1;
          if (calls === 2) controller.abort(reason);
          throw new Error("busy");
        },
        () => true,
        { attempts: 10, initialDelayMs: 1, maxDelayMs: 2, signal: () => controller.signal },
      ),
    ).rejects.toBe(reason);
    expect(calls).toBeLessThan(10);
  });

  it("treats an operation that throws instead of rejecting as a failed attempt", async () => {
    let calls = 0;
    const result = await retryWithBackoff(
      (() => {
        calls += 1;
        if (calls < 2) throw new Error("busy");
        return Promise.resolve("done");
      }) as () => Promise<string>,
      () => true,
      fast,
    );
    expect(result).toBe("done");
    expect(calls).toBe(2);
  });
});
