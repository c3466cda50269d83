import { describe, expect, it } from "vitest";
import { configFromSources, resolveConfig } from "../../src/config.js";
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

  it("takes an owner of 1-40 lowercase letters, digits or dashes, since it becomes part of the name", async () => {
    for (const owner of ["default", "team-a", "a", "x".repeat(40)]) {
      expect((await resolveConfig({ provider: "aws", owner })).config.owner).toBe(owner);
    }
    for (const owner of ["Team-A", "team_a", "team/a", "-a", "a-", "", "x".repeat(41)]) {
      const error = await expectConfigError(() => resolveConfig({ provider: "aws", owner }));
      expect(error.field).toBe("owner");
    }
  });

  it("checks ownership only when verifyOwnership is set, from the config or OMNISECRET_AWS_VERIFY_OWNERSHIP", async () => {
    expect((await resolveConfig({ provider: "aws" })).config.verifyOwnership).toBe(false);
    const fromEnv = configFromSources({ env: { OMNISECRET_PROVIDER: "aws", OMNISECRET_AWS_VERIFY_OWNERSHIP: "true" } });
    expect((await resolveConfig(fromEnv)).config.verifyOwnership).toBe(true);
    const error = await expectConfigError(() => resolveConfig({ provider: "aws", verifyOwnership: "yes" }));
    expect(error.field).toBe("verifyOwnership");
  });

  it("keeps 1 version by default and at most 2, the versions AWS labels (issue 23)", async () => {
    expect((await resolveConfig({ provider: "aws" })).config.keepVersions).toBe(1);
    expect((await resolveConfig({ provider: "aws", keepVersions: 2 })).config.keepVersions).toBe(2);
    const fromEnv = configFromSources({ env: { OMNISECRET_PROVIDER: "aws", OMNISECRET_AWS_KEEP_VERSIONS: "2" } });
    expect((await resolveConfig(fromEnv)).config.keepVersions).toBe(2);
    for (const keepVersions of [0, 3, 100, 1.5, "2"]) {
      const error = await expectConfigError(() => resolveConfig({ provider: "aws", keepVersions }));
      expect(error.field).toBe("keepVersions");
    }
    const error = await expectConfigError(() => resolveConfig({ provider: "aws", keepVersions: 3 }));
    expect(error.message).toContain("AWSPREVIOUS");
  });
});
