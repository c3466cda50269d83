import { expect } from "vitest";
import { ConfigError } from "../src/errors.js";

/** Runs `run`, expects it to throw (or reject with) a `ConfigError`, and returns that error for closer checks. */
export async function expectConfigError(run: () => unknown): Promise<ConfigError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}
