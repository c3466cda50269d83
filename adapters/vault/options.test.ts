import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config.js";
import { expectConfigError } from "../../test-support/expect-config-error.js";

describe("vault options (issue 12, item 10)", () => {
  it("refuses a plain http address off loopback unless allowPlaintextRemote is set", async () => {
    for (const address of ["http://127.0.0.1:8200", "http://localhost:8200", "https://vault.example:8200"]) {
      expect((await resolveConfig({ provider: "vault", address })).config.address).toBe(address);
    }
    for (const address of ["http://10.0.0.5:8200", "http://vault.internal:8200"]) {
      const error = await expectConfigError(() => resolveConfig({ provider: "vault", address }));
      expect(error.field).toBe("address");
      expect(error.message).toContain("allowPlaintextRemote");
      expect((await resolveConfig({ provider: "vault", address, allowPlaintextRemote: true })).config.address).toBe(
        address,
      );
    }
  });

  it("refuses . and .. segments in the mount", async () => {
    for (const mount of ["..", "secret/..", "../sys", "team/./kv", "a/../../sys/raw"]) {
      expect((await expectConfigError(() => resolveConfig({ provider: "vault", mount }))).field, mount).toBe("mount");
    }
    for (const mount of ["secret", "team/kv", "kv.v2", "my_kv-1"]) {
      expect((await resolveConfig({ provider: "vault", mount })).config.mount).toBe(mount);
    }
  });
});
