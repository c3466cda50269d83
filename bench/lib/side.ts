/**
 * What every side of a benchmark implements: omnisecret's `SecretStore`, or a hand-written
 * baseline that sends the same provider requests with the raw SDK or client.
 */
import type { SecretValues } from "../../src/contract.js";

export interface BenchSide {
  storeSecretValues(id: string, values: SecretValues): Promise<void>;
  getSecretValues(id: string): Promise<SecretValues>;
  updateSecretValues(id: string, values: SecretValues): Promise<void>;
  deleteSecretValues(id: string): Promise<void>;
  close(): Promise<void>;
}

export type { SecretValues };

/** Thrown by the baselines for a missing or foreign secret, as omnisecret throws SecretNotFoundError. */
export class NotFound extends Error {
  override name = "NotFound";
  constructor(id: string) {
    super(`secret ${id} was not found`);
  }
}

/** A baseline: builds a driver for a provider's server config and a name prefix. */
export type RawFactory = (config: Record<string, unknown>, prefix: string) => Promise<BenchSide>;
