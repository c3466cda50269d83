import { expect } from "vitest";
import { ConfigError } from "../src/errors.js";

/** Runs `run`, expects it to throw a `ConfigError`, and returns that error for closer checks. */
export function expectConfigError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}
