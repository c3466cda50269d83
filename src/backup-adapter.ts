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
 *   existing: get reads it from the backup, update and delete act on the backup, and a store of
 *   it fails with E_SECRET_EXISTS (its create on the primary is taken back, and reported).
 * - list yields the primary's ids, then the backup's that the primary did not list.
 *
 * Ordering. The calls on one id run in order within this adapter (one per process, normally): a
 * write waits for every call on the id before it, a read for the write before it, and reads run
 * together; an id with nothing in flight costs nothing but a map entry, dropped when idle. A
 * delete whose backup side failed is remembered (up to `MAX_REMEMBERED_DELETES` ids), so the
 * backup's leftover copy is never served, listed or written as a secret (a write of the id while
 * the primary is unavailable fails) until the primary takes a store or an update of the id, or a
 * delete reaches the backup. After a write both sides took, the primary is read again
 * (`checkAfterWrite`): another state there means another process wrote the id meanwhile, and the
 * backup may have taken the two writes in the other order (`diverged`; so is a failed read).
 *
 * What is guaranteed:
 *
 * | property                                        | within one process                                            | across processes (one adapter each over the same two sides)                                        |
 * | ----------------------------------------------- | ------------------------------------------------------------- | -------------------------------------------------------------------------------------------------- |
 * | the calls on one id take effect in one order    | yes                                                           | no: only the primary orders them (its atomic create; its last write stands)                        |
 * | a store never replaces a secret                 | yes, a backup-only one included, unless reported              | yes on the primary; a backup-only copy met by a store is reported (`diverged`)                     |
 * | an acknowledged delete is not undone by a read  | yes: the backup's leftover copy is never served               | no: another process may serve the backup's leftover copy, which the deleting process reported      |
 * | no acknowledged write lost                      | unless reported (a write the primary missed)                  | the primary holds the last write in its own order, unless reported                                 |
 * | every divergence of the two sides is reported   | yes                                                           | yes with `checkAfterWrite` (the default); without it, racing writes may diverge silently            |
 *
 * A `diverged` report may be a false alarm (a later write already brought the sides in line);
 * compare the sides before repairing. What can diverge, and how `omnisecret backup` / `restore`
 * repair it: docs/backup-and-migration.md.
 */
import { debuglog, isDeepStrictEqual } from "node:util";
import { type SecretsAdapter, type SecretValues, UNCACHEABLE } from "./contract.js";
import { errorCodeOf, SecretIntegrityError, SecretNotFoundError, type SecretStoreError } from "./errors.js";
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
   * - `diverged`: the two sides differ, or may, and this call could not settle it: the primary
   *   held another state than this write left once the backup had followed (another process wrote
   *   the id at the same time, so the backup may hold the older state; error `E_SECRET_INTEGRITY`),
   *   or a store was refused because the backup alone holds the id (error `E_SECRET_EXISTS`; or the
   *   error of taking back its create on the primary, which then keeps the refused values).
   */
  readonly kind:
    | "backup-write-failed"
    | "primary-write-failed"
    | "primary-read-failed"
    | "backup-read-failed"
    | "diverged";
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
  /**
   * After a write both sides took, read the primary again and report `diverged` if it no longer
   * holds what the write left: the one way to notice that another process wrote the same id at
   * the same time and the two sides ended in a different order. One more primary read per write;
   * without it such a race leaves the sides different without any report.
   * @default true
   */
  readonly checkAfterWrite?: boolean | undefined;
}

/** The most ids whose backup delete failed that a `BackupAdapter` remembers (the oldest is forgotten first). */
export const MAX_REMEMBERED_DELETES = 10_000;

/**
 * Something calls may wait for: the end of a write, or of a group of reads. Its promise is made
 * only when a call has to wait, so calls that meet nothing in flight make none.
 */
interface Gate {
  /** Calls of a read group still running (unused for a write). */
  count: number;
  open: boolean;
  promise?: Promise<void>;
  resolve?: () => void;
}

function gate(): Gate {
  return { count: 0, open: false };
}

function waitFor(target: Gate): Promise<void> {
  if (target.promise === undefined) {
    target.promise = new Promise<void>((resolve) => {
      target.resolve = resolve;
    });
  }
  return target.promise;
}

function openGate(target: Gate): void {
  target.open = true;
  target.resolve?.();
}

/** One id's queue: the last write queued, and the group of reads started since (they run together). */
interface Lane {
  write: Gate | undefined;
  reads: Gate;
  /** Calls queued or running on this id; the lane is dropped at 0. */
  pending: number;
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
  readonly #checkAfterWrite: boolean;
  /** Per id with calls in flight: writes run one after another, reads wait for the write before them. */
  readonly #lanes = new Map<string, Lane>();
  /**
   * Ids this process deleted on the primary whose backup delete failed: the backup still holds a
   * copy, which a get must not serve (the not-found fallback would bring the secret back) until a
   * store or update of the id the primary takes, or a delete that reaches the backup, settles it.
   */
  readonly #deletedOnPrimaryOnly = new Set<string>();
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
      // The batch waits for writes in flight on its ids, so it never sees half of one (such as
      // the primary's create of a store that is then refused).
      this.getManySecretValues = (ids) => this.#inLane(ids, false, () => this.#getMany(batchRead, ids));
    }
    this.#checkAfterWrite = options.checkAfterWrite ?? true;
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

  storeSecretValues(id: string, values: SecretValues, serialized: string): Promise<void> {
    return this.#inLane(id, true, () => this.#store(id, values, serialized));
  }

  getSecretValues(id: string): Promise<SecretValues> {
    return this.#inLane(id, false, () => this.#get(id));
  }

  updateSecretValues(id: string, values: SecretValues, serialized: string): Promise<void> {
    return this.#inLane(id, true, () => this.#update(id, values, serialized));
  }

  deleteSecretValues(id: string): Promise<void> {
    return this.#inLane(id, true, () => this.#delete(id));
  }

  /**
   * Runs a call on its ids in order: a write waits for every call before it on its id, a read for
   * the write before it on each of its ids (reads run together). The call is queued on all its
   * ids at once, so no two calls can wait for each other. An id with nothing in flight costs a
   * map entry, dropped when idle.
   */
  #inLane<T>(ids: string | readonly string[], write: boolean, run: () => Promise<T>): Promise<T> {
    const waits: Promise<void>[] = [];
    const mine = write ? gate() : undefined;
    const held: Array<[string, Lane, Gate]> = [];
    for (const id of typeof ids === "string" ? [ids] : ids) {
      let lane = this.#lanes.get(id);
      if (lane === undefined) {
        lane = { write: undefined, reads: gate(), pending: 0 };
        this.#lanes.set(id, lane);
      }
      if (lane.write !== undefined && !lane.write.open) waits.push(waitFor(lane.write));
      const group = lane.reads;
      if (mine) {
        // The reads before this write are a closed group now; later reads wait for this write.
        if (group.count > 0) waits.push(waitFor(group));
        lane.write = mine;
        lane.reads = gate();
      } else {
        group.count += 1;
      }
      lane.pending += 1;
      held.push([id, lane, group]);
    }
    const finish = () => {
      if (mine) openGate(mine);
      for (const [id, lane, group] of held) {
        if (!mine) {
          group.count -= 1;
          if (group.count === 0) openGate(group);
        }
        if (lane.write === mine && mine) lane.write = undefined;
        lane.pending -= 1;
        if (lane.pending === 0 && this.#lanes.get(id) === lane) this.#lanes.delete(id);
      }
    };
    const started = waits.length === 0 ? run() : Promise.all(waits).then(run);
    return started.then(
      (value) => {
        finish();
        return value;
      },
      (error: unknown) => {
        finish();
        throw error;
      },
    );
  }

  async #store(id: string, values: SecretValues, serialized: string): Promise<void> {
    const primary = await this.#attempt(this.#primaryName, "store", id, values, () =>
      this.#primary.storeSecretValues(id, values, serialized),
    );
    if (!primary.ok) {
      if (primary.error.code !== "E_PROVIDER_UNAVAILABLE") throw primary.error;
      this.#refuseDeletedCopy("store", id, primary.error);
      await this.#backupOnly("store", id, primary.error, values, () =>
        this.#backup.storeSecretValues(id, values, serialized),
      );
      return;
    }
    // The primary holds the id again: whatever the backup holds, the primary answers for it.
    const leftover = this.#deletedOnPrimaryOnly.delete(id);
    const backup = await this.#attempt(this.#backupName, "store", id, values, () =>
      this.#backup.storeSecretValues(id, values, serialized),
    );
    if (backup.ok) {
      await this.#checkPrimary("store", id, values);
      return;
    }
    if (backup.error.code === "E_SECRET_EXISTS") {
      if (leftover) {
        // The copy a failed backup delete left behind: replaced by the new values.
        await this.#followOnBackup("store", id, values, () => this.#backup.updateSecretValues(id, values, serialized));
        return;
      }
      // The backup alone has the id (stored while the primary was down, or by another process's
      // write meanwhile): get serves it, so the id exists and the store is refused, as the contract
      // says. The primary's create is taken back; the backup-only copy is reported, as a get of it
      // would be (`omnisecret restore` brings it to the primary).
      const undo = await this.#attempt(this.#primaryName, "store", id, values, () =>
        this.#primary.deleteSecretValues(id),
      );
      this.#onEvent({
        kind: "diverged",
        operation: "store",
        secretId: id,
        error: undo.ok ? backup.error : undo.error,
        served: false,
      });
      throw backup.error;
    }
    this.#onEvent({ kind: "backup-write-failed", operation: "store", secretId: id, error: backup.error, served: true });
  }

  async #get(id: string): Promise<SecretValues> {
    const primary = await this.#attempt(this.#primaryName, "get", id, undefined, () =>
      this.#primary.getSecretValues(id),
    );
    if (primary.ok) return primary.value;
    if (!READ_FALLBACK_CODES.has(primary.error.code)) throw primary.error;
    // A copy of a secret this process deleted is never served.
    const backup = this.#deletedOnPrimaryOnly.has(id)
      ? { ok: false as const, error: new SecretNotFoundError(id, { provider: this.#backupName }) }
      : await this.#attempt(this.#backupName, "get", id, undefined, () => this.#backup.getSecretValues(id));
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
        const errorCode = errorCodeOf(answer);
        if (answer !== undefined && !READ_FALLBACK_CODES.has(String(errorCode))) {
          results.set(id, answer);
          return;
        }
        try {
          // This call already holds the id's lane (queueing again could wait for a write queued
          // behind this very call).
          results.set(id, await this.#get(id));
        } catch (error) {
          results.set(id, error instanceof Error ? error : new Error(String(error)));
        }
      }),
    );
    return results;
  }

  async #update(id: string, values: SecretValues, serialized: string): Promise<void> {
    const primary = await this.#attempt(this.#primaryName, "update", id, values, () =>
      this.#primary.updateSecretValues(id, values, serialized),
    );
    if (!primary.ok) {
      if (primary.error.code === "E_SECRET_NOT_FOUND") {
        // This process deleted it: the backup's leftover copy is no secret to update.
        if (this.#deletedOnPrimaryOnly.has(id)) throw primary.error;
        // Stored while the primary was down: it lives on the backup alone, and is updated there.
        await this.#onBackupAlone("update", id, values, primary.error, () =>
          this.#backup.updateSecretValues(id, values, serialized),
        );
        return;
      }
      if (primary.error.code !== "E_PROVIDER_UNAVAILABLE") throw primary.error;
      this.#refuseDeletedCopy("update", id, primary.error);
      await this.#backupOnly("update", id, primary.error, values, () =>
        this.#backup.updateSecretValues(id, values, serialized),
      );
      return;
    }
    this.#deletedOnPrimaryOnly.delete(id);
    await this.#followOnBackup("update", id, values, async () => {
      try {
        await this.#backup.updateSecretValues(id, values, serialized);
      } catch (error) {
        // The backup never had it (it was down at the store): it gets it now.
        if (errorCodeOf(error) !== "E_SECRET_NOT_FOUND") throw error;
        await this.#backup.storeSecretValues(id, values, serialized);
      }
    });
  }

  async #delete(id: string): Promise<void> {
    const primary = await this.#attempt(this.#primaryName, "delete", id, undefined, () =>
      this.#primary.deleteSecretValues(id),
    );
    if (!primary.ok) {
      if (primary.error.code === "E_SECRET_NOT_FOUND") {
        if (this.#deletedOnPrimaryOnly.has(id)) {
          // Already deleted by this process: the backup's leftover copy goes now if it can.
          const retry = await this.#attempt(this.#backupName, "delete", id, undefined, () =>
            this.#backup.deleteSecretValues(id),
          );
          if (retry.ok || retry.error.code === "E_SECRET_NOT_FOUND") this.#deletedOnPrimaryOnly.delete(id);
          throw primary.error;
        }
        await this.#onBackupAlone("delete", id, undefined, primary.error, () => this.#backup.deleteSecretValues(id));
        return;
      }
      if (primary.error.code !== "E_PROVIDER_UNAVAILABLE") throw primary.error;
      this.#refuseDeletedCopy("delete", id, primary.error);
      await this.#backupOnly("delete", id, primary.error, undefined, () => this.#backup.deleteSecretValues(id));
      return;
    }
    await this.#followOnBackup("delete", id, undefined, async () => {
      try {
        await this.#backup.deleteSecretValues(id);
      } catch (error) {
        // Not there: the backup already agrees.
        if (errorCodeOf(error) !== "E_SECRET_NOT_FOUND") throw error;
      }
    });
  }

  /**
   * The primary is unavailable and this process deleted the id there while the backup kept a
   * copy: the copy is no secret to write, and the primary's state is unknown (another process, or
   * a repair, may have stored the id since), so the call fails.
   */
  #refuseDeletedCopy(operation: "store" | "update" | "delete", id: string, primaryError: SecretStoreError): void {
    if (!this.#deletedOnPrimaryOnly.has(id)) return;
    this.#onEvent({ kind: "primary-write-failed", operation, secretId: id, error: primaryError, served: false });
    throw primaryError;
  }

  /** Remembers an id whose backup delete failed, forgetting the oldest beyond the bound. */
  #rememberDeleted(id: string): void {
    this.#deletedOnPrimaryOnly.delete(id);
    this.#deletedOnPrimaryOnly.add(id);
    if (this.#deletedOnPrimaryOnly.size > MAX_REMEMBERED_DELETES) {
      const oldest = this.#deletedOnPrimaryOnly.values().next().value;
      if (oldest !== undefined) this.#deletedOnPrimaryOnly.delete(oldest);
    }
  }

  /**
   * After both sides took a write: the primary must still hold what the write left (`values`, or
   * nothing after a delete). In this process the id's lane keeps other writes out, so a difference
   * means another process wrote the id meanwhile, and the backup may have taken the two writes in
   * the other order: reported as `diverged`. So is a primary that cannot answer the check (with
   * its error): unchecked, the sides may differ.
   */
  async #checkPrimary(operation: "store" | "update" | "delete", id: string, values: SecretValues | undefined) {
    if (!this.#checkAfterWrite) return;
    const read = await this.#attempt(this.#primaryName, "get", id, undefined, () => this.#primary.getSecretValues(id));
    if (!read.ok && read.error.code !== "E_SECRET_NOT_FOUND") {
      this.#onEvent({ kind: "diverged", operation, secretId: id, error: read.error, served: true });
      return;
    }
    if (isDeepStrictEqual(read.ok ? read.value : undefined, values)) return;
    this.#onEvent({
      kind: "diverged",
      operation,
      secretId: id,
      error: new SecretIntegrityError(
        id,
        "the primary changed while the backup followed this write (another process wrote it at the same time); the backup may hold an older state",
        { provider: this.#primaryName },
      ),
      served: true,
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
        if (seen.has(id) || this.#deletedOnPrimaryOnly.has(id)) continue;
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
    if (backup.ok) {
      this.#deletedOnPrimaryOnly.delete(id);
      await this.#checkPrimary(operation, id, values);
      return;
    }
    this.#onEvent({ kind: "backup-write-failed", operation, secretId: id, error: backup.error, served: true });
    if (operation === "delete") this.#rememberDeleted(id);
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
    operation: "update" | "delete",
    id: string,
    values: SecretValues | undefined,
    notFound: SecretStoreError,
    run: () => Promise<void>,
  ): Promise<void> {
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
    diverged: "the primary and the backup may now differ (compare them; `omnisecret backup` or `restore` repairs)",
  };
  return `backup store: ${event.operation}${target}: ${what[event.kind]}: ${event.error.code}: ${event.error.message}`;
}
