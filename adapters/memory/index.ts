import { isDeepStrictEqual } from "node:util";
import {
  type AdapterCapabilities,
  type AdapterContext,
  type CallOptions,
  incarnationOf,
  parseStoredValues,
  parseVersionToken,
  type ReadOptions,
  SecretAlreadyExistsError,
  SecretChangedError,
  SecretNotFoundError,
  type SecretRead,
  type SecretsAdapter,
  type SecretValues,
  type SecretVersion,
  versionToken,
} from "../../src/kit/index.js";
import type { ResolvedMemoryOptions } from "./options.js";

export type { MemoryOptions } from "./options.js";

/** A version's native part: its number within the secret's incarnation, from 1. */
const VERSION_NUMBER = /^[1-9]\d{0,15}$/;

/** One version of a secret: its JSON text, number and creation time. */
interface Version {
  readonly serialized: string;
  readonly number: number;
  readonly createdAt: Date;
}

/** A secret: its incarnation (when this store of it was made) and its kept versions. */
interface Secret {
  readonly incarnation: string;
  /** The current version: what a get of the latest reads. */
  current: Version;
  /** The versions before it still readable, newest first: at most `keepVersions - 1`. */
  earlier: Version[];
}

/**
 * Keeps secrets in this process's memory, for tests of applications. Values are held as their
 * JSON text, so nothing a caller does to an object it passed in or got back changes the store.
 *
 * Versions: an update makes a new version; the latest `keepVersions` are kept (readable by
 * "previous" or their token), older ones are dropped. A token is `<incarnation>.<number>`: the
 * incarnation is the time of the store that created the secret (base-36 milliseconds, moved on by
 * one millisecond where two stores in this adapter fall in the same one), so a token of a deleted
 * secret never reads one stored again under its id. This adapter is the reference the shared
 * suites' version tests run on.
 */
export class MemoryAdapter implements SecretsAdapter {
  readonly provider = "memory";
  readonly capabilities: AdapterCapabilities;
  readonly #secrets = new Map<string, Secret>();
  readonly #keepVersions: number;
  /** The incarnation time of the latest store, so that every store gets another one. */
  #lastIncarnationMs = 0;

  constructor(
    options: Pick<ResolvedMemoryOptions, "maxValueBytes"> & { keepVersions?: number },
    _context?: AdapterContext,
  ) {
    this.#keepVersions = options.keepVersions ?? 1;
    this.capabilities = {
      maxValueBytes: options.maxValueBytes,
      conditionalDelete: true,
      list: true,
      versions: true,
      revision: true,
    };
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
    const now = Date.now();
    const incarnationMs = Math.max(now, this.#lastIncarnationMs + 1);
    this.#lastIncarnationMs = incarnationMs;
    this.#secrets.set(id, {
      incarnation: incarnationOf(incarnationMs),
      current: { serialized, number: 1, createdAt: new Date(now) },
      earlier: [],
    });
  }

  async getSecretValues(id: string, options?: ReadOptions): Promise<SecretRead> {
    const secret = this.#secrets.get(id);
    if (secret === undefined) throw new SecretNotFoundError(id);
    const version = options?.version;
    if (version === undefined || version === "latest") {
      return { values: parseStoredValues(secret.current.serialized, id, this.provider) };
    }
    const read = this.#versionOf(id, secret, version);
    return {
      values: parseStoredValues(read.serialized, id, this.provider),
      version: versionToken(secret.incarnation, read.number),
    };
  }

  /** The kept version `version` ("previous" or a token) names, or `SecretNotFoundError` saying why there is none. */
  #versionOf(id: string, secret: Secret, version: string): Version {
    if (version === "previous") {
      const previous = secret.earlier[0];
      if (previous !== undefined) return previous;
      const why =
        secret.current.number === 1
          ? "it has had no other version"
          : `keepVersions is ${this.#keepVersions}, so no earlier version is kept`;
      throw new SecretNotFoundError(id, { message: `secret ${id} has no previous version: ${why}` });
    }
    const token = parseVersionToken(version, VERSION_NUMBER);
    if (token === undefined || token.incarnation !== secret.incarnation) {
      throw new SecretNotFoundError(id, {
        message: `version ${version} of secret ${id} is gone: the secret it belonged to was deleted`,
      });
    }
    const number = Number(token.native);
    if (number === secret.current.number) return secret.current;
    const kept = secret.earlier.find((candidate) => candidate.number === number);
    if (kept !== undefined) return kept;
    throw new SecretNotFoundError(id, {
      message:
        number > secret.current.number
          ? `secret ${id} has no version ${version}`
          : `version ${version} of secret ${id} was pruned (keepVersions is ${this.#keepVersions})`,
    });
  }

  async updateSecretValues(
    id: string,
    _values: SecretValues,
    serialized: string,
    _options?: CallOptions,
  ): Promise<void> {
    const secret = this.#secrets.get(id);
    if (secret === undefined) throw new SecretNotFoundError(id);
    const replaced = secret.current;
    secret.current = { serialized, number: replaced.number + 1, createdAt: new Date() };
    if (this.#keepVersions > 1) {
      secret.earlier.unshift(replaced);
      // Beyond keepVersions: dropped, so unreadable.
      secret.earlier.length = Math.min(secret.earlier.length, this.#keepVersions - 1);
    }
  }

  async deleteSecretValues(id: string, _options?: CallOptions): Promise<void> {
    // Every version goes with it.
    if (!this.#secrets.delete(id)) throw new SecretNotFoundError(id);
  }

  async deleteSecretValuesIfUnchanged(id: string, expected: SecretValues, _options?: CallOptions): Promise<void> {
    // No await between the read and the delete: nothing else runs in between.
    const secret = this.#secrets.get(id);
    if (secret === undefined) throw new SecretNotFoundError(id);
    if (!isDeepStrictEqual(parseStoredValues(secret.current.serialized, id, this.provider), expected)) {
      throw new SecretChangedError(id, { provider: this.provider });
    }
    this.#secrets.delete(id);
  }

  async *listSecretIds(_options?: CallOptions): AsyncIterable<string> {
    // A snapshot, so deleting while iterating is safe.
    yield* [...this.#secrets.keys()];
  }

  async listSecretVersions(id: string, _options?: CallOptions): Promise<readonly SecretVersion[]> {
    const secret = this.#secrets.get(id);
    if (secret === undefined) throw new SecretNotFoundError(id);
    // Only the kept versions: the dropped ones are gone from memory.
    return [secret.current, ...secret.earlier].map((version, index) => ({
      token: versionToken(secret.incarnation, version.number),
      createdAt: version.createdAt,
      current: index === 0,
      readable: true,
    }));
  }

  async getSecretRevision(id: string, _options?: CallOptions): Promise<string> {
    const secret = this.#secrets.get(id);
    if (secret === undefined) throw new SecretNotFoundError(id);
    return versionToken(secret.incarnation, secret.current.number);
  }

  isVersionToken(token: string): boolean {
    return parseVersionToken(token, VERSION_NUMBER) !== undefined;
  }
}

export function createMemoryAdapter(options: ResolvedMemoryOptions, context: AdapterContext): SecretsAdapter {
  return new MemoryAdapter(options, context);
}
