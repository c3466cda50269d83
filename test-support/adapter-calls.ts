/**
 * Store, update and read called on an adapter itself, without the facade (which serializes the
 * values and passes call options), for tests of what an adapter does on its own.
 */
import type { SecretsAdapter, SecretValues } from "../src/contract.js";

export const storeValues = (adapter: SecretsAdapter, id: string, values: SecretValues) =>
  adapter.storeSecretValues(id, values, JSON.stringify(values), {});

export const updateValues = (adapter: SecretsAdapter, id: string, values: SecretValues) =>
  adapter.updateSecretValues(id, values, JSON.stringify(values), {});

/** The values of the latest version, or of `version` (a token, or "previous"). */
export const readValues = async (adapter: SecretsAdapter, id: string, version?: string) =>
  (await adapter.getSecretValues(id, version === undefined ? {} : { version })).values;
