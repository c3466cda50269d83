import { describe, expect, it } from "vitest";
import { configFromSources, resolveConfig } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";
import { expectConfigError } from "../../test-support/expect-config-error.js";

describe("gcp options", () => {
  it("requires a project id and names the field", async () => {
    const error = await expectConfigError(() => resolveConfig({ provider: "gcp" }));
    expect(error.field).toBe("projectId");
    expect(error.message).toContain("GOOGLE_CLOUD_PROJECT");
  });

  it("reads the project from OMNISECRET_GCP_PROJECT_ID, then GOOGLE_CLOUD_PROJECT, then GCLOUD_PROJECT", async () => {
    const fromEnv = (env: NodeJS.ProcessEnv) => configFromSources({ env: { OMNISECRET_PROVIDER: "gcp", ...env } });
    expect(fromEnv({ GCLOUD_PROJECT: "gcloud-one" }).projectId).toBe("gcloud-one");
    expect(fromEnv({ GCLOUD_PROJECT: "gcloud-one", GOOGLE_CLOUD_PROJECT: "google-one" }).projectId).toBe("google-one");
    expect(fromEnv({ GOOGLE_CLOUD_PROJECT: "google-one", OMNISECRET_GCP_PROJECT_ID: "own-one" }).projectId).toBe(
      "own-one",
    );
    const config = fromEnv({
      GOOGLE_CLOUD_PROJECT: "p-1",
      OMNISECRET_GCP_API_ENDPOINT: "127.0.0.1",
      OMNISECRET_GCP_PORT: "8085",
      OMNISECRET_GCP_PLAINTEXT: "true",
      OMNISECRET_GCP_REPLICATION: '{"userManaged":{"locations":["us-east1"]}}',
      OMNISECRET_GCP_PRUNE_ACTION: "disable",
      OMNISECRET_GCP_KEEP_VERSIONS: "2",
    });
    expect((await resolveConfig(config)).config).toMatchObject({
      projectId: "p-1",
      apiEndpoint: "127.0.0.1",
      port: 8085,
      plaintext: true,
      replication: { userManaged: { locations: ["us-east1"] } },
      pruneAction: "disable",
      keepVersions: 2,
    });
  });

  it("has defaults: automatic replication, owner default, destroy all but the newest version", async () => {
    expect((await resolveConfig({ provider: "gcp", projectId: "p-1" })).config).toMatchObject({
      owner: "default",
      replication: "automatic",
      keepVersions: 1,
      pruneAction: "destroy",
      listPageSize: 100,
      maxAttempts: 3,
      plaintext: false,
      halfCreatedGraceMs: 10_000,
    });
  });

  it("allows plaintext to loopback only, unless forced", async () => {
    for (const apiEndpoint of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) {
      expect(
        (await resolveConfig({ provider: "gcp", projectId: "p-1", apiEndpoint, plaintext: true })).config,
      ).toMatchObject({
        plaintext: true,
      });
    }
    for (const apiEndpoint of ["10.0.0.5", "emulator.internal", "secretmanager.googleapis.com", "128.0.0.1"]) {
      const error = await expectConfigError(() =>
        resolveConfig({ provider: "gcp", projectId: "p-1", apiEndpoint, plaintext: true }),
      );
      expect(error.field).toBe("plaintext");
      expect(error.message).toContain("allowPlaintextRemote");
    }
    expect(
      (await expectConfigError(() => resolveConfig({ provider: "gcp", projectId: "p-1", plaintext: true }))).field,
    ).toBe("plaintext");
    expect(
      (
        await resolveConfig({
          provider: "gcp",
          projectId: "p-1",
          apiEndpoint: "10.0.0.5",
          plaintext: true,
          allowPlaintextRemote: true,
        })
      ).config,
    ).toMatchObject({ allowPlaintextRemote: true });
  });

  it("rejects bad owners, endpoints, replication and pruning settings", async () => {
    const bad: Record<string, unknown>[] = [
      { owner: "Upper" },
      { owner: "x".repeat(64) },
      { owner: "a:b" },
      { apiEndpoint: "http://127.0.0.1" },
      { apiEndpoint: "127.0.0.1:8085" },
      { port: 0 },
      { replication: "manual" },
      { replication: { userManaged: { locations: [] } } },
      { replication: { userManaged: { locations: ["us-east1", "us-east1"] } } },
      { keepVersions: 0 },
      { pruneAction: "delete" },
      { listPageSize: 25_001 },
      { projectId: "projects/p-1" },
      { client: {} },
    ];
    for (const fields of bad) {
      await expect(
        resolveConfig({ provider: "gcp", projectId: "p-1", ...fields }),
        JSON.stringify(fields),
      ).rejects.toThrow(ConfigError);
    }
  });
});
