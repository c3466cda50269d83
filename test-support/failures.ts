import { randomUUID } from "node:crypto";
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
