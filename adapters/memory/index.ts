import { isDeepStrictEqual } from "node:util";
import {
  type AdapterCapabilities,
  type AdapterContext,
  type CallOptions,
  parseStoredValues,
  SecretAlreadyExistsError,
  SecretChangedError,
  SecretNotFoundError,
  type SecretRead,
  type SecretsAdapter,
  type SecretValues,
} from "../../src/kit/index.js";
import type { ResolvedMemoryOptions } from "./options.js";

export type { MemoryOptions } from "./options.js";

/**
 * Keeps secrets in this process's memory, for tests of applications. Values are held as their
 * JSON text, so nothing a caller does to an object it passed in or got back changes the store.
 */
export class MemoryAdapter implements SecretsAdapter {
  readonly provider = "memory";
  readonly capabilities: AdapterCapabilities;
  readonly #secrets = new Map<string, string>();

  constructor(options: Pick<ResolvedMemoryOptions, "maxValueBytes">, _context?: AdapterContext) {
    this.capabilities = { maxValueBytes: options.maxValueBytes, conditionalDelete: true, list: true };
  }

  // Every call finishes before it returns, so a caller's signal (checked by the facade first) has
  // nothing left to stop: the options are not read.

  async storeSecretValues(
    id: string,
    _values: SecretValues,
    serialized: string,
    _options?: CallOptions,
  ): Promise<void> {
    if (this.#secrets.has(id)) throw new SecretAlreadyExistsError(id);
    this.#secrets.set(id, serialized);
  }

  async getSecretValues(id: string, _options?: CallOptions): Promise<SecretRead> {
    const serialized = this.#secrets.get(id);
    if (serialized === undefined) throw new SecretNotFoundError(id);
    return { values: parseStoredValues(serialized, id, this.provider) };
  }

  async updateSecretValues(
    id: string,
    _values: SecretValues,
    serialized: string,
    _options?: CallOptions,
  ): Promise<void> {
    if (!this.#secrets.has(id)) throw new SecretNotFoundError(id);
    this.#secrets.set(id, serialized);
  }

  async deleteSecretValues(id: string, _options?: CallOptions): Promise<void> {
    if (!this.#secrets.delete(id)) throw new SecretNotFoundError(id);
  }

  async deleteSecretValuesIfUnchanged(id: string, expected: SecretValues, _options?: CallOptions): Promise<void> {
    // No await between the read and the delete: nothing else runs in between.
    const serialized = this.#secrets.get(id);
    if (serialized === undefined) throw new SecretNotFoundError(id);
    if (!isDeepStrictEqual(parseStoredValues(serialized, id, this.provider), expected)) {
      throw new SecretChangedError(id, { provider: this.provider });
    }
    this.#secrets.delete(id);
  }

  async *listSecretIds(_options?: CallOptions): AsyncIterable<string> {
    // A snapshot, so deleting while iterating is safe.
    yield* [...this.#secrets.keys()];
  }
}

export function createMemoryAdapter(options: ResolvedMemoryOptions, context: AdapterContext): SecretsAdapter {
  return new MemoryAdapter(options, context);
}
