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
});
