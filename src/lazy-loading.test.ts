import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLOUD_SDK_PACKAGES, packagesLoadedFor } from "../test-support/packages-loaded.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-lazy-db-"));

describe("lazy loading of providers", () => {
  it("loads no cloud SDK when the local provider is used", () => {
    const loaded = packagesLoadedFor({ provider: "local", path: join(directory, "lazy.db") });
    // The recorder must see packages at all, or the absence below proves nothing.
    expect(loaded).toContain("better-sqlite3");
    for (const sdk of CLOUD_SDK_PACKAGES) expect(loaded).not.toContain(sdk);
  });

  it("loads neither SQLite nor any cloud SDK when the memory provider is used", () => {
    const loaded = packagesLoadedFor({ provider: "memory" });
    expect(loaded).toContain("zod");
    expect(loaded).not.toContain("better-sqlite3");
    for (const sdk of CLOUD_SDK_PACKAGES) expect(loaded).not.toContain(sdk);
  });
});
