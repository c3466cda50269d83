import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SECRET_STORE_ERROR_CODES } from "../src/errors.js";

const root = join(import.meta.dirname, "..");

describe("README", () => {
  it("shows examples/directory-adapter.mjs on the custom adapter page exactly as the tests run it", () => {
    const page = readFileSync(join(root, "docs", "providers", "custom.md"), "utf8");
    const example = readFileSync(join(root, "examples", "directory-adapter.mjs"), "utf8");
    expect(page).toContain(`\`\`\`js\n${example}\`\`\``);
  });

  it("documents every error code and the two front-door commands", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    for (const code of SECRET_STORE_ERROR_CODES) expect(readme, `README lists ${code}`).toContain(code);
    expect(readme).toContain("npm run demo");
    expect(readme).toContain("npm test");
  });
});
