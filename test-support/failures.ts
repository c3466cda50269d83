import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { SecretStore } from "../src/secret-store.js";

/** What get, update and delete of `id` throw, in that order (each is expected to fail). */
export async function failuresOfGetUpdateDelete(store: SecretStore, id: string = randomUUID()): Promise<unknown[]> {
  const operations = [
    () => store.getSecretValues(id),
    () => store.updateSecretValues(id, { a: "b" }),
    () => store.deleteSecretValues(id),
  ];
  const failures: unknown[] = [];
  for (const operation of operations) {
    failures.push(
      await operation().then(
        () => new Error("the operation succeeded"),
        (error: unknown) => error,
      ),
    );
  }
  return failures;
}

/**
 * The cause an adapter's failure carries: the SDK error itself when the adapter mapped it to a
 * typed error, and for E_UNKNOWN the facade's copy of it (name and message kept, values cut).
 */
export function expectCauseOf(caught: unknown, original: Error): void {
  const cause = (caught as Error).cause;
  if ((caught as { code?: string }).code === "E_UNKNOWN") {
    expect(cause).toMatchObject({ name: original.name, message: original.message });
  } else {
    expect(cause).toBe(original);
  }
}
