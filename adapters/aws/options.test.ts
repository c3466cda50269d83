import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config.js";
import { expectConfigError } from "../../test-support/expect-config-error.js";

describe("aws options", () => {
  it("refuses a plain http endpoint off loopback unless allowPlaintextRemote is set (issue 12, item 10)", async () => {
    for (const endpoint of [
      "http://127.0.0.1:4566",
      "http://localhost:4566",
      "http://[::1]:4566",
      "https://x.example",
    ]) {
      expect((await resolveConfig({ provider: "aws", endpoint })).config.endpoint).toBe(endpoint);
    }
    for (const endpoint of ["http://10.0.0.5:4566", "http://localstack.internal:4566", "http://128.0.0.1"]) {
      const error = await expectConfigError(() => resolveConfig({ provider: "aws", endpoint }));
      expect(error.field).toBe("endpoint");
      expect(error.message).toContain("allowPlaintextRemote");
      const forced = await resolveConfig({ provider: "aws", endpoint, allowPlaintextRemote: true });
      expect(forced.config.endpoint).toBe(endpoint);
    }
  });
});
