import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { redactValues } from "../secret-store.js";
import { createContext } from "./context.js";

describe("the CLI context's remembered values", () => {
  it("keeps every value of every call, also under a key an earlier secret had", () => {
    const io = { stdout: () => undefined, stderr: () => undefined, readStdin: async () => "", env: {} };
    const context = createContext(io, new Command(), (command) => command, false);
    context.remember({ password: "first-secret-value", user: "first-user" });
    context.remember({ password: "second-secret-value" });
    // A re-read of the same values (run --watch) adds nothing.
    context.remember({ password: "first-secret-value", user: "first-user" });
    expect(Object.values(context.seenValues).sort()).toEqual([
      "first-secret-value",
      "first-user",
      "second-secret-value",
    ]);
    expect(redactValues("a first-secret-value, b second-secret-value", context.seenValues)).toBe(
      "a [redacted], b [redacted]",
    );
  });
});
