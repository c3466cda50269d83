import { afterEach, describe, expect, it, vi } from "vitest";
import { Deadline } from "../deadline.js";
import { backoffDelayMs, type RequestPolicy, RequestRunner } from "./request.js";

const tiny = { initialDelayMs: 1, maxDelayMs: 2 };

class Busy extends Error {}
class Refused extends Error {}

const later = () => new Deadline(Date.now() + 60_000);

/** A request failing with `failures` in turn, then answering "done"; counts its attempts. */
function failing(...failures: Error[]) {
  const request = {
    calls: 0,
    send: async () => {
      request.calls += 1;
      const failure = failures[request.calls - 1];
      if (failure) throw failure;
      return "done";
    },
  };
  return request;
}

function runner(policy: Partial<RequestPolicy> = {}) {
  return new RequestRunner({
    attempts: 4,
    backoff: tiny,
    isRetryable: (error) => error instanceof Busy,
    mapError: (error, id) => new Error(`mapped ${id}`, { cause: error }),
    ...policy,
  });
}

describe("RequestRunner", () => {
  it("retries a retryable failure until the request succeeds", async () => {
    const request = failing(new Busy(), new Busy());
    expect(await runner().run(later(), request.send)).toBe("done");
    expect(request.calls).toBe(3);
  });

  it("never retries a failure isRetryable refuses, and throws it unmapped from run", async () => {
    const refused = new Refused();
    const request = failing(refused);
    await expect(runner().run(later(), request.send)).rejects.toBe(refused);
    expect(request.calls).toBe(1);
  });

  it("stops at its attempts and maps the last failure in send, with the id", async () => {
    const last = new Busy("last");
    const request = failing(new Busy(), new Busy(), new Busy(), last);
    const failure = await runner()
      .send(later(), "id-1", request.send)
      .catch((error: unknown) => error);
    expect(request.calls).toBe(4);
    expect(failure).toMatchObject({ message: "mapped id-1", cause: last });
  });

  it("stops at the deadline, with its reason", async () => {
    const deadline = later();
    const reason = new Error("operationTimeoutMs passed");
    let calls = 0;
    const send = async () => {
      calls += 1;
      if (calls === 2) deadline.expire(reason);
      throw new Busy();
    };
    await expect(runner({ attempts: 10 }).run(deadline, send)).rejects.toBe(reason);
    expect(calls).toBe(2);
  });

  it("reads the deadline's signal only when a retry is due", async () => {
    let asked = 0;
    const real = later();
    const deadline = {
      get signal() {
        asked += 1;
        return real.signal;
      },
    } as Deadline;
    expect(await runner().run(deadline, failing().send)).toBe("done");
    expect(asked).toBe(0);
    expect(await runner().run(deadline, failing(new Busy()).send)).toBe("done");
    expect(asked).toBe(1);
  });

  it("runs prepare before the first attempt only, and its failure ends the request unretried", async () => {
    let prepared = 0;
    const ready = runner({
      prepare: () => {
        prepared += 1;
        return Promise.resolve();
      },
    });
    expect(await ready.run(later(), failing(new Busy()).send)).toBe("done");
    expect(prepared).toBe(1);

    const setupFailure = new Busy("setup");
    const request = failing();
    const failure = await runner({ prepare: () => Promise.reject(setupFailure) })
      .send(later(), "id-2", request.send)
      .catch((error: unknown) => error);
    expect(request.calls).toBe(0);
    expect(failure).toMatchObject({ message: "mapped id-2", cause: setupFailure });
  });

  it("renews once per request after a failure renewAfter accepts, and ends with the failure itself", async () => {
    const denied = new Refused("403");
    let renewals = 0;
    const renewing = runner({
      renewAfter: (error) => {
        if (!(error instanceof Refused)) return false;
        renewals += 1;
        return Promise.resolve(true);
      },
    });
    expect(await renewing.run(later(), failing(denied).send)).toBe("done");
    expect(renewals).toBe(1);

    const request = failing(denied, denied, denied);
    await expect(renewing.run(later(), request.send)).rejects.toBe(denied);
    expect(request.calls).toBe(2);
    expect(renewals).toBe(2);
  });

  it("sends without a deadline, bounded by its attempts", async () => {
    const request = failing(new Busy(), new Busy(), new Busy(), new Busy());
    await expect(runner().run(undefined, request.send)).rejects.toBeInstanceOf(Busy);
    expect(request.calls).toBe(4);
  });
});

describe("backoffDelayMs", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("waits the initial delay doubled for each retry after the first, once to twice that, capped", () => {
    const policy = { initialDelayMs: 100, maxDelayMs: 1_000 };
    vi.spyOn(Math, "random").mockReturnValue(0);
    expect([1, 2, 3, 4, 5].map((retry) => backoffDelayMs(policy, retry))).toEqual([100, 200, 400, 800, 1_000]);
    vi.spyOn(Math, "random").mockReturnValue(0.999_999);
    expect([1, 2, 3, 4].map((retry) => backoffDelayMs(policy, retry))).toEqual([200, 400, 800, 1_000]);
  });
});
