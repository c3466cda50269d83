/**
 * The backup store: two adapters behind the one `SecretsAdapter` contract, so the facade's
 * validation, size limit and read cache stay in one place (`secret-store.ts`).
 *
 * - store, update, delete go to the primary, then to the backup. A write the primary made
 *   succeeds even when the backup fails; that failure is reported (`onBackupError`, the debug
 *   log), never swallowed. A write whose primary is unavailable goes to the backup alone, and
 *   is reported as such.
 * - get goes to the primary; on E_PROVIDER_UNAVAILABLE, E_SECRET_NOT_FOUND or E_UNKNOWN it asks
 *   the backup. A map the backup gave is marked `UNCACHEABLE`: the facade's read cache keeps
 *   only the primary's answers, so a stale backup copy is never served from memory once the
 *   primary is back.
 * - An id the primary lacks but the backup has (written while the primary was down) counts as
 *   existing: get reads it from the backup, update and delete act on the backup.
 * - list yields the primary's ids, then the backup's that the primary did not list.
 *
 * What can diverge, and how `omnisecret backup` / `restore` repair it: docs/backup-and-migration.md.
 */
import { debuglog } from "node:util";
import { type SecretsAdapter, type SecretValues, UNCACHEABLE } from "./contract.js";
import type { SecretStoreError } from "./errors.js";
import { type Operation, wrapUnknown } from "./wrap-unknown.js";

// The facade's debug section: NODE_DEBUG=omnisecret shows what the backup did, never values.
const debug = debuglog("omnisecret");

/** Something that left the primary and the backup different, or made the backup answer. */
export interface BackupEvent {
  /**
   * - `backup-write-failed`: the primary made the write, the backup did not; the backup is behind.
   * - `primary-write-failed`: the primary was unavailable; the write went to the backup alone.
   * - `primary-read-failed`: the primary could not answer a get (or a list); the backup answered,
   *   or failed too (`served: false`).
   * - `backup-read-failed`: the backup could not answer after the primary had failed.
   */
  readonly kind: "backup-write-failed" | "primary-write-failed" | "primary-read-failed" | "backup-read-failed";
  readonly operation: "store" | "get" | "update" | "delete" | "list";
  /** The secret's id, except for list. */
  readonly secretId?: string | undefined;
  /** The failure of the side named by `kind` (a typed error; its message carries no value). */
  readonly error: SecretStoreError;
  /** Whether the call still succeeded (served by the other side). */
  readonly served: boolean;
}

export interface BackupOptions {
  /**
   * Called for every `BackupEvent`. It must not throw (what it throws is ignored). Without it,
   * each event is a process warning (`OmnisecretBackupWarning`, printed on stderr by Node), so a
   * diverging backup is never silent.
   */
  readonly onBackupError?: ((event: BackupEvent) => void) | undefined;
}

/** Read failures of the primary that the backup answers instead. */
const READ_FALLBACK_CODES = new Set(["E_PROVIDER_UNAVAILABLE", "E_SECRET_NOT_FOUND", "E_UNKNOWN"]);

export class BackupAdapter implements SecretsAdapter {
  readonly provider: string;
  readonly maxValueBytes: number;
  readonly atomicCreate: boolean;
  readonly #primary: SecretsAdapter;
  readonly #backup: SecretsAdapter;
  readonly #primaryName: string;
  readonly #backupName: string;
  readonly #onEvent: (event: BackupEvent) => void;
  /** The primary's batch read, offered only when the primary has one (AWS reads 20 ids a request). */
  readonly getManySecretValues?: (ids: readonly string[]) => Promise<ReadonlyMap<string, SecretValues | Error>>;
  readonly maxBatchSize?: number;

  constructor(
    primary: { adapter: SecretsAdapter; provider: string },
    backup: { adapter: SecretsAdapter; provider: string },
    options: BackupOptions = {},
  ) {
    this.#primary = primary.adapter;
    this.#backup = backup.adapter;
    this.#primaryName = primary.adapter.provider ?? primary.provider;
    this.#backupName = backup.adapter.provider ?? backup.provider;
    this.provider = this.#primaryName;
    // A value must fit both sides, or the backup could never hold it.
    this.maxValueBytes = Math.min(primary.adapter.maxValueBytes ?? 65_536, backup.adapter.maxValueBytes ?? 65_536);
    this.atomicCreate = primary.adapter.atomicCreate ?? true;
    const batchRead = primary.adapter.getManySecretValues?.bind(primary.adapter);
    if (batchRead) {
      if (primary.adapter.maxBatchSize !== undefined) this.maxBatchSize = primary.adapter.maxBatchSize;
      this.getManySecretValues = (ids) => this.#getMany(batchRead, ids);
    }
    const callback = options.onBackupError;
    this.#onEvent = (event) => {
      debug(
        "backup: %s on %s%s: %s (%s)",
        event.kind,
        event.operation,
        event.secretId ? ` of secret ${event.secretId}` : "",
        event.error.code,
        event.served ? "served" : "not served",
      );
      if (callback === undefined) {
        process.emitWarning(describeBackupEvent(event), { type: "OmnisecretBackupWarning", code: event.error.code });
        return;
      }
      try {
        callback(event);
      } catch {
        // A reporting callback must not turn a successful write into a failure.
      }
    };
  }

  async storeSecretValues(id: string, values: SecretValues, serialized: string): Promise<void> {
    const primary = await this.#attempt(this.#primaryName, "store", id, values, () =>
      this.#primary.storeSecretValues(id, values, serialized),
    );
    if (!primary.ok) {
      if (primary.error.code !== "E_PROVIDER_UNAVAILABLE") throw primary.error;
      await this.#backupOnly("store", id, primary.error, values, () =>
        this.#backup.storeSecretValues(id, values, serialized),
      );
      return;
    }
    // The backup follows the primary, which is the reference: an older copy there is replaced.
    await this.#followOnBackup("store", id, values, async () => {
      try {
        await this.#backup.storeSecretValues(id, values, serialized);
      } catch (error) {
        if (code(error) !== "E_SECRET_EXISTS") throw error;
        await this.#backup.updateSecretValues(id, values, serialized);
      }
    });
  }

  async getSecretValues(id: string): Promise<SecretValues> {
    const primary = await this.#attempt(this.#primaryName, "get", id, undefined, () =>
      this.#primary.getSecretValues(id),
    );
    if (primary.ok) return primary.value;
    if (!READ_FALLBACK_CODES.has(primary.error.code)) throw primary.error;
    const backup = await this.#attempt(this.#backupName, "get", id, undefined, () => this.#backup.getSecretValues(id));
    if (backup.ok) {
      // Reported even for a missing id: a secret only the backup has is a divergence to repair.
      this.#onEvent({
        kind: "primary-read-failed",
        operation: "get",
        secretId: id,
        error: primary.error,
        served: true,
      });
      return markUncacheable(backup.value);
    }
    if (primary.error.code === "E_SECRET_NOT_FOUND" && backup.error.code === "E_SECRET_NOT_FOUND") throw primary.error;
    this.#onEvent({ kind: "primary-read-failed", operation: "get", secretId: id, error: primary.error, served: false });
    if (backup.error.code !== "E_SECRET_NOT_FOUND") {
      this.#onEvent({ kind: "backup-read-failed", operation: "get", secretId: id, error: backup.error, served: false });
    }
    // The primary's answer stands: "not found" from a backup says nothing of an unavailable primary.
    throw primary.error.code === "E_SECRET_NOT_FOUND" ? backup.error : primary.error;
  }

  /**
   * One batch from the primary; an id it could not answer (missing, unavailable, the whole batch
   * failed) then goes the single get's way, which falls back to the backup. So a batch read serves
   * exactly what a get of each id would, at one primary request per batch while the primary is well.
   */
  async #getMany(
    batchRead: (ids: readonly string[]) => Promise<ReadonlyMap<string, SecretValues | Error>>,
    ids: readonly string[],
  ): Promise<ReadonlyMap<string, SecretValues | Error>> {
    let answers: ReadonlyMap<string, SecretValues | Error>;
    try {
      answers = await batchRead(ids);
    } catch {
      answers = new Map();
    }
    const results = new Map<string, SecretValues | Error>();
    await Promise.all(
      ids.map(async (id) => {
        const answer = answers.get(id);
        if (answer !== undefined && !(answer instanceof Error)) {
          results.set(id, answer);
          return;
        }
        const errorCode = (answer as { code?: unknown } | undefined)?.code;
        if (answer !== undefined && !READ_FALLBACK_CODES.has(String(errorCode))) {
          results.set(id, answer);
          return;
        }
        try {
          results.set(id, await this.getSecretValues(id));
        } catch (error) {
          results.set(id, error instanceof Error ? error : new Error(String(error)));
        }
      }),
    );
    return results;
  }

  async updateSecretValues(id: string, values: SecretValues, serialized: string): Promise<void> {
    const primary = await this.#attempt(this.#primaryName, "update", id, values, () =>
      this.#primary.updateSecretValues(id, values, serialized),
    );
    if (!primary.ok) {
      if (primary.error.code === "E_SECRET_NOT_FOUND") {
        // Stored while the primary was down: it lives on the backup alone, and is updated there.
        await this.#onBackupAlone(id, values, primary.error, () =>
          this.#backup.updateSecretValues(id, values, serialized),
        );
        return;
      }
      if (primary.error.code !== "E_PROVIDER_UNAVAILABLE") throw primary.error;
      await this.#backupOnly("update", id, primary.error, values, () =>
        this.#backup.updateSecretValues(id, values, serialized),
      );
      return;
    }
    await this.#followOnBackup("update", id, values, async () => {
      try {
        await this.#backup.updateSecretValues(id, values, serialized);
      } catch (error) {
        // The backup never had it (it was down at the store): it gets it now.
        if (code(error) !== "E_SECRET_NOT_FOUND") throw error;
        await this.#backup.storeSecretValues(id, values, serialized);
      }
    });
  }

  async deleteSecretValues(id: string): Promise<void> {
    const primary = await this.#attempt(this.#primaryName, "delete", id, undefined, () =>
      this.#primary.deleteSecretValues(id),
    );
    if (!primary.ok) {
      if (primary.error.code === "E_SECRET_NOT_FOUND") {
        await this.#onBackupAlone(id, undefined, primary.error, () => this.#backup.deleteSecretValues(id));
        return;
      }
      if (primary.error.code !== "E_PROVIDER_UNAVAILABLE") throw primary.error;
      await this.#backupOnly("delete", id, primary.error, undefined, () => this.#backup.deleteSecretValues(id));
      return;
    }
    await this.#followOnBackup("delete", id, undefined, async () => {
      try {
        await this.#backup.deleteSecretValues(id);
      } catch (error) {
        // Not there: the backup already agrees.
        if (code(error) !== "E_SECRET_NOT_FOUND") throw error;
      }
    });
  }

  async *listSecretIds(): AsyncIterable<string> {
    const seen = new Set<string>();
    let primaryFailed = false;
    if (this.#primary.listSecretIds) {
      try {
        for await (const id of this.#primary.listSecretIds()) {
          if (seen.has(id)) continue;
          seen.add(id);
          yield id;
        }
      } catch (error) {
        primaryFailed = true;
        const wrapped = wrapUnknown(error, this.#primaryName, "list");
        if (!READ_FALLBACK_CODES.has(wrapped.code)) throw wrapped;
        this.#onEvent({ kind: "primary-read-failed", operation: "list", error: wrapped, served: true });
      }
    }
    if (!this.#backup.listSecretIds) return;
    try {
      for await (const id of this.#backup.listSecretIds()) {
        if (seen.has(id)) continue;
        seen.add(id);
        yield id;
      }
    } catch (error) {
      const wrapped = wrapUnknown(error, this.#backupName, "list");
      // With the primary's list complete the call still answers; without it, it fails.
      this.#onEvent({ kind: "backup-read-failed", operation: "list", error: wrapped, served: !primaryFailed });
      if (primaryFailed) throw wrapped;
    }
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled([this.#primary.close?.(), this.#backup.close?.()]);
    const failed = results.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Runs one side's call; a failure comes back as a typed error naming that side's provider. */
  async #attempt<T>(
    provider: string,
    operation: Operation,
    id: string,
    values: SecretValues | undefined,
    run: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: SecretStoreError }> {
    try {
      return { ok: true, value: await run() };
    } catch (error) {
      return { ok: false, error: wrapUnknown(error, provider, operation, id, values) };
    }
  }

  /** After the primary made a write: the backup follows; its failure is reported, not thrown. */
  async #followOnBackup(
    operation: "store" | "update" | "delete",
    id: string,
    values: SecretValues | undefined,
    run: () => Promise<void>,
  ): Promise<void> {
    const backup = await this.#attempt(this.#backupName, operation, id, values, run);
    if (!backup.ok) {
      this.#onEvent({ kind: "backup-write-failed", operation, secretId: id, error: backup.error, served: true });
    }
  }

  /** The primary was unavailable: the write goes to the backup alone, and says so. */
  async #backupOnly(
    operation: "store" | "update" | "delete",
    id: string,
    primaryError: SecretStoreError,
    values: SecretValues | undefined,
    run: () => Promise<void>,
  ): Promise<void> {
    const backup = await this.#attempt(this.#backupName, operation, id, values, run);
    this.#onEvent({ kind: "primary-write-failed", operation, secretId: id, error: primaryError, served: backup.ok });
    if (!backup.ok) {
      // The backup's own refusal (an existing id, a missing one) is the answer; otherwise the primary's failure.
      throw backup.error.code === "E_PROVIDER_UNAVAILABLE" || backup.error.code === "E_UNKNOWN"
        ? primaryError
        : backup.error;
    }
  }

  /** The primary does not have the id: an update or delete acts on a backup-only copy, or is "not found". */
  async #onBackupAlone(
    id: string,
    values: SecretValues | undefined,
    notFound: SecretStoreError,
    run: () => Promise<void>,
  ): Promise<void> {
    const operation = values === undefined ? "delete" : "update";
    const backup = await this.#attempt(this.#backupName, operation, id, values, run);
    if (backup.ok) {
      this.#onEvent({ kind: "primary-write-failed", operation, secretId: id, error: notFound, served: true });
      return;
    }
    if (backup.error.code !== "E_SECRET_NOT_FOUND") {
      this.#onEvent({ kind: "backup-write-failed", operation, secretId: id, error: backup.error, served: false });
    }
    throw notFound;
  }
}

function code(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/** The map with the mark that keeps the facade from caching it. */
function markUncacheable(values: SecretValues): SecretValues {
  Object.defineProperty(values, UNCACHEABLE, { value: true, enumerable: false });
  return values;
}

/** One line for an event: what happened to which id, and the error code; never a value. */
export function describeBackupEvent(event: BackupEvent): string {
  const target = event.secretId ? ` of secret ${event.secretId}` : "";
  const what: Record<BackupEvent["kind"], string> = {
    "backup-write-failed": "the primary made it, the backup did not (run `omnisecret backup` to catch up)",
    "primary-write-failed": event.served
      ? "the primary could not take it; it was made on the backup alone (run `omnisecret restore` once the primary is back)"
      : "neither the primary nor the backup took it",
    "primary-read-failed": event.served ? "the primary failed; the backup answered" : "the primary failed",
    "backup-read-failed": "the backup failed too",
  };
  return `backup store: ${event.operation}${target}: ${what[event.kind]}: ${event.error.code}: ${event.error.message}`;
}
