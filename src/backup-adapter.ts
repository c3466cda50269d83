/**
 * The backup store: two adapters behind the one `SecretsAdapter` contract, so the facade's
 * validation, size limit and read cache stay in one place (`secret-store.ts`).
 *
 * - store, update, delete go to the primary, then to the backup. A write the primary made
 *   succeeds even when the backup fails; that failure is reported (`onBackupError`, the debug
 *   log), never swallowed. A write whose primary is unavailable goes to the backup alone, and
 *   is reported as such.
 * - get goes to the primary; on E_PROVIDER_UNAVAILABLE, E_SECRET_NOT_FOUND or E_UNKNOWN it asks
 *   the backup. What the backup gave is read with `cacheable: false`: the facade's read cache
 *   keeps only the primary's answers, so a stale backup copy is never served from memory once
 *   the primary is back.
 * - A caller's signal goes to both sides; once it aborts, the call ends with its reason (no
 *   fallback to the other side, no report: the caller gave up, no side failed).
 * - An id the primary lacks but the backup has (written while the primary was down) counts as
 *   existing: get reads it from the backup, update and delete act on the backup, and a store of
 *   it fails with E_SECRET_EXISTS (its create on the primary is taken back, and reported).
 * - list yields the primary's ids, then the backup's that the primary did not list.
 * - Versions are the primary's: a get of "previous" or of a token, and `listSecretVersions`, go
 *   to the primary alone (its tokens mean nothing to the backup, whose copies are of the current
 *   values only), and fail as the primary does, `E_PROVIDER_UNAVAILABLE` during its outage
 *   included. A get of the latest falls back as above.
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
import type {
  AdapterCapabilities,
  AnySecretsAdapter,
  CallOptions,
  ReadOptions,
  ResolvedCapabilities,
  SecretRead,
  SecretsAdapter,
  SecretValues,
  SecretVersion,
} from "./contract.js";
import { errorCodeOf, SecretIntegrityError, SecretNotFoundError, type SecretStoreError } from "./errors.js";
import { contractAdapter, NO_OPTIONS, resolveCapabilities } from "./legacy-adapter.js";
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

/**
 * Errors of gets whose primary answered "not found" and whose backup then failed: the backup's
 * error is thrown (the id may live on the backup alone), but the primary did answer, so the
 * facade's stale-if-error must not bring back a value the primary no longer has.
 */
const primaryFoundNothing = new WeakSet<object>();

/** Whether a get's error is the backup's failure after the primary answered "not found" (see above). */
export function isAfterPrimaryNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && primaryFoundNothing.has(error);
}

/** Read failures of the primary that the backup answers instead. */
const READ_FALLBACK_CODES = new Set(["E_PROVIDER_UNAVAILABLE", "E_SECRET_NOT_FOUND", "E_UNKNOWN"]);

export class BackupAdapter implements SecretsAdapter {
  readonly provider: string;
  readonly capabilities: AdapterCapabilities;
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
  readonly #primaryCan: ResolvedCapabilities;
  readonly #backupCan: ResolvedCapabilities;

  constructor(
    primary: { adapter: AnySecretsAdapter; provider: string },
    backup: { adapter: AnySecretsAdapter; provider: string },
    options: BackupOptions = {},
  ) {
    this.#primary = contractAdapter(primary.adapter);
    this.#backup = contractAdapter(backup.adapter);
    this.#primaryName = this.#primary.provider ?? primary.provider;
    this.#backupName = this.#backup.provider ?? backup.provider;
    this.provider = this.#primaryName;
    this.#primaryCan = resolveCapabilities(this.#primary.capabilities);
    this.#backupCan = resolveCapabilities(this.#backup.capabilities);
    this.capabilities = {
      // A value must fit both sides, or the backup could never hold it.
      maxValueBytes: Math.min(this.#primaryCan.maxValueBytes, this.#backupCan.maxValueBytes),
      atomicCreate: this.#primaryCan.atomicCreate,
      // The primary's batch read (AWS reads 20 ids a request), where it has one.
      batchGet: this.#primaryCan.batchGet,
      maxBatchSize: this.#primaryCan.maxBatchSize,
      list: this.#primaryCan.list || this.#backupCan.list,
      versions: this.#primaryCan.versions,
    };
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

  storeSecretValues(id: string, values: SecretValues, serialized: string, options = NO_OPTIONS): Promise<void> {
    return this.#inLane(id, true, options, () => this.#store(id, values, serialized, options));
  }

  getSecretValues(id: string, options: ReadOptions = NO_OPTIONS): Promise<SecretRead> {
    const version = options.version;
    if (version !== undefined && version !== "latest") {
      return this.#inLane(id, false, options, () =>
        this.#onPrimary("get", id, options, (primary) => primary.getSecretValues(id, options)),
      );
    }
    return this.#inLane(id, false, options, () => this.#get(id, options));
  }

  /** The primary's versions (only with its `capabilities.versions`); the backup keeps current values only. */
  listSecretVersions(id: string, options: CallOptions = NO_OPTIONS): Promise<readonly SecretVersion[]> {
    return this.#inLane(id, false, options, () =>
      this.#onPrimary("list versions of", id, options, (primary) => {
        if (primary.listSecretVersions === undefined) throw new Error("the primary has no listSecretVersions");
        return primary.listSecretVersions(id, options);
      }),
    );
  }

  /** The primary's own check: tokens are its. */
  isVersionToken(token: string): boolean {
    return this.#primary.isVersionToken?.(token) === true;
  }

  /** A call on the primary alone, no fallback: its failure (named after the primary) is the answer. */
  async #onPrimary<T>(
    operation: Operation,
    id: string,
    options: CallOptions,
    run: (primary: SecretsAdapter) => Promise<T>,
  ): Promise<T> {
    const primary = await this.#attempt(options, this.#primaryName, operation, id, undefined, () => run(this.#primary));
    if (!primary.ok) throw primary.error;
    return primary.value;
  }

  updateSecretValues(id: string, values: SecretValues, serialized: string, options = NO_OPTIONS): Promise<void> {
    return this.#inLane(id, true, options, () => this.#update(id, values, serialized, options));
  }

  deleteSecretValues(id: string, options = NO_OPTIONS): Promise<void> {
    return this.#inLane(id, true, options, () => this.#delete(id, options));
  }

  /**
   * One batch from the primary (only with its `batchGet`). The batch waits for writes in flight
   * on its ids, so it never sees half of one (such as the primary's create of a store that is
   * then refused).
   */
  getManySecretValues(ids: readonly string[], options = NO_OPTIONS): Promise<ReadonlyMap<string, SecretRead | Error>> {
    return this.#inLane(ids, false, options, () => this.#getMany(ids, options));
  }

  /**
   * Runs a call on its ids in order: a write waits for every call before it on its id, a read for
   * the write before it on each of its ids (reads run together). The call is queued on all its
   * ids at once, so no two calls can wait for each other. An id with nothing in flight costs a
   * map entry, dropped when idle.
   */
  #inLane<T>(ids: string | readonly string[], write: boolean, options: CallOptions, run: () => Promise<T>): Promise<T> {
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
    // A caller who gave up while the call waited for its turn: it ends before touching either side.
    const started =
      waits.length === 0
        ? run()
        : Promise.all(waits).then(() => {
            options.signal?.throwIfAborted();
            return run();
          });
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

  async #store(id: string, values: SecretValues, serialized: string, options: CallOptions): Promise<void> {
    const primary = await this.#attempt(options, this.#primaryName, "store", id, values, () =>
      this.#primary.storeSecretValues(id, values, serialized, options),
    );
    if (!primary.ok) {
      if (primary.error.code !== "E_PROVIDER_UNAVAILABLE") throw primary.error;
      this.#refuseDeletedCopy("store", id, primary.error);
      await this.#backupOnly(options, "store", id, primary.error, values, () =>
        this.#backup.storeSecretValues(id, values, serialized, options),
      );
      return;
    }
    // The primary holds the id again: whatever the backup holds, the primary answers for it.
    const leftover = this.#deletedOnPrimaryOnly.delete(id);
    const backup = await this.#attempt(options, this.#backupName, "store", id, values, () =>
      this.#backup.storeSecretValues(id, values, serialized, options),
    );
    if (backup.ok) {
      await this.#checkPrimary(options, "store", id, values);
      return;
    }
    if (backup.error.code === "E_SECRET_EXISTS") {
      if (leftover) {
        // The copy a failed backup delete left behind: replaced by the new values.
        await this.#followOnBackup(options, "store", id, values, () =>
          this.#backup.updateSecretValues(id, values, serialized, options),
        );
        return;
      }
      // The backup alone has the id (stored while the primary was down, or by another process's
      // write meanwhile): get serves it, so the id exists and the store is refused, as the contract
      // says. The primary's create is taken back; the backup-only copy is reported, as a get of it
      // would be (`omnisecret restore` brings it to the primary).
      const undo = await this.#attempt(options, this.#primaryName, "store", id, values, () =>
        this.#primary.deleteSecretValues(id, options),
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

  async #get(id: string, options: CallOptions): Promise<SecretRead> {
    const primary = await this.#attempt(options, this.#primaryName, "get", id, undefined, () =>
      this.#primary.getSecretValues(id, options),
    );
    if (primary.ok) return primary.value;
    if (!READ_FALLBACK_CODES.has(primary.error.code)) throw primary.error;
    // A copy of a secret this process deleted is never served.
    const backup = this.#deletedOnPrimaryOnly.has(id)
      ? { ok: false as const, error: new SecretNotFoundError(id, { provider: this.#backupName }) }
      : await this.#attempt(options, this.#backupName, "get", id, undefined, () =>
          this.#backup.getSecretValues(id, options),
        );
    if (backup.ok) {
      // Reported even for a missing id: a secret only the backup has is a divergence to repair.
      this.#onEvent({
        kind: "primary-read-failed",
        operation: "get",
        secretId: id,
        error: primary.error,
        served: true,
      });
      return { values: backup.value.values, cacheable: false };
    }
    if (primary.error.code === "E_SECRET_NOT_FOUND" && backup.error.code === "E_SECRET_NOT_FOUND") throw primary.error;
    this.#onEvent({ kind: "primary-read-failed", operation: "get", secretId: id, error: primary.error, served: false });
    if (backup.error.code !== "E_SECRET_NOT_FOUND") {
      this.#onEvent({ kind: "backup-read-failed", operation: "get", secretId: id, error: backup.error, served: false });
    }
    // The primary's answer stands: "not found" from a backup says nothing of an unavailable primary.
    if (primary.error.code !== "E_SECRET_NOT_FOUND") throw primary.error;
    primaryFoundNothing.add(backup.error);
    throw backup.error;
  }

  /**
   * One batch from the primary; an id it could not answer (missing, unavailable, the whole batch
   * failed) then goes the single get's way, which falls back to the backup. So a batch read serves
   * exactly what a get of each id would, at one primary request per batch while the primary is well.
   */
  async #getMany(ids: readonly string[], options: CallOptions): Promise<ReadonlyMap<string, SecretRead | Error>> {
    const batchRead = this.#primary.getManySecretValues;
    if (!this.#primaryCan.batchGet || batchRead === undefined) throw new Error("the primary has no batch read");
    let answers: ReadonlyMap<string, SecretRead | Error>;
    try {
      answers = await batchRead.call(this.#primary, ids, options);
    } catch {
      if (options.signal?.aborted) throw options.signal.reason;
      answers = new Map();
    }
    const results = new Map<string, SecretRead | Error>();
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
          results.set(id, await this.#get(id, options));
        } catch (error) {
          if (options.signal?.aborted) throw options.signal.reason;
          results.set(id, error instanceof Error ? error : new Error(String(error)));
        }
      }),
    );
    return results;
  }

  async #update(id: string, values: SecretValues, serialized: string, options: CallOptions): Promise<void> {
    const primary = await this.#attempt(options, this.#primaryName, "update", id, values, () =>
      this.#primary.updateSecretValues(id, values, serialized, options),
    );
    if (!primary.ok) {
      if (primary.error.code === "E_SECRET_NOT_FOUND") {
        // This process deleted it: the backup's leftover copy is no secret to update.
        if (this.#deletedOnPrimaryOnly.has(id)) throw primary.error;
        // Stored while the primary was down: it lives on the backup alone, and is updated there.
        await this.#onBackupAlone(options, "update", id, values, primary.error, () =>
          this.#backup.updateSecretValues(id, values, serialized, options),
        );
        return;
      }
      if (primary.error.code !== "E_PROVIDER_UNAVAILABLE") throw primary.error;
      this.#refuseDeletedCopy("update", id, primary.error);
      await this.#backupOnly(options, "update", id, primary.error, values, () =>
        this.#backup.updateSecretValues(id, values, serialized, options),
      );
      return;
    }
    this.#deletedOnPrimaryOnly.delete(id);
    await this.#followOnBackup(options, "update", id, values, async () => {
      try {
        await this.#backup.updateSecretValues(id, values, serialized, options);
      } catch (error) {
        // The backup never had it (it was down at the store): it gets it now.
        if (errorCodeOf(error) !== "E_SECRET_NOT_FOUND") throw error;
        await this.#backup.storeSecretValues(id, values, serialized, options);
      }
    });
  }

  async #delete(id: string, options: CallOptions): Promise<void> {
    const primary = await this.#attempt(options, this.#primaryName, "delete", id, undefined, () =>
      this.#primary.deleteSecretValues(id, options),
    );
    if (!primary.ok) {
      if (primary.error.code === "E_SECRET_NOT_FOUND") {
        if (this.#deletedOnPrimaryOnly.has(id)) {
          // Already deleted by this process: the backup's leftover copy goes now if it can.
          const retry = await this.#attempt(options, this.#backupName, "delete", id, undefined, () =>
            this.#backup.deleteSecretValues(id, options),
          );
          if (retry.ok || retry.error.code === "E_SECRET_NOT_FOUND") this.#deletedOnPrimaryOnly.delete(id);
          throw primary.error;
        }
        await this.#onBackupAlone(options, "delete", id, undefined, primary.error, () =>
          this.#backup.deleteSecretValues(id, options),
        );
        return;
      }
      if (primary.error.code !== "E_PROVIDER_UNAVAILABLE") throw primary.error;
      this.#refuseDeletedCopy("delete", id, primary.error);
      await this.#backupOnly(options, "delete", id, primary.error, undefined, () =>
        this.#backup.deleteSecretValues(id, options),
      );
      return;
    }
    await this.#followOnBackup(options, "delete", id, undefined, async () => {
      try {
        await this.#backup.deleteSecretValues(id, options);
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
  async #checkPrimary(
    options: CallOptions,
    operation: "store" | "update" | "delete",
    id: string,
    values: SecretValues | undefined,
  ) {
    if (!this.#checkAfterWrite) return;
    const read = await this.#attempt(options, this.#primaryName, "get", id, undefined, () =>
      this.#primary.getSecretValues(id, options),
    );
    if (!read.ok && read.error.code !== "E_SECRET_NOT_FOUND") {
      this.#onEvent({ kind: "diverged", operation, secretId: id, error: read.error, served: true });
      return;
    }
    if (isDeepStrictEqual(read.ok ? read.value.values : undefined, values)) return;
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

  async *listSecretIds(options = NO_OPTIONS): AsyncIterable<string> {
    const seen = new Set<string>();
    let primaryFailed = false;
    if (this.#primaryCan.list && this.#primary.listSecretIds) {
      try {
        for await (const id of this.#primary.listSecretIds(options)) {
          if (seen.has(id)) continue;
          seen.add(id);
          yield id;
        }
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        primaryFailed = true;
        const wrapped = wrapUnknown(error, this.#primaryName, "list");
        if (!READ_FALLBACK_CODES.has(wrapped.code)) throw wrapped;
        this.#onEvent({ kind: "primary-read-failed", operation: "list", error: wrapped, served: true });
      }
    }
    if (!this.#backupCan.list || !this.#backup.listSecretIds) return;
    try {
      for await (const id of this.#backup.listSecretIds(options)) {
        if (seen.has(id) || this.#deletedOnPrimaryOnly.has(id)) continue;
        seen.add(id);
        yield id;
      }
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
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
    options: CallOptions,
    provider: string,
    operation: Operation,
    id: string,
    values: SecretValues | undefined,
    run: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: SecretStoreError }> {
    try {
      return { ok: true, value: await run() };
    } catch (error) {
      // The caller gave up: no side failed, so nothing falls back and nothing is reported.
      if (options.signal?.aborted) throw options.signal.reason;
      return { ok: false, error: wrapUnknown(error, provider, operation, id, values) };
    }
  }

  /** After the primary made a write: the backup follows; its failure is reported, not thrown. */
  async #followOnBackup(
    options: CallOptions,
    operation: "store" | "update" | "delete",
    id: string,
    values: SecretValues | undefined,
    run: () => Promise<void>,
  ): Promise<void> {
    const backup = await this.#attempt(options, this.#backupName, operation, id, values, run);
    if (backup.ok) {
      this.#deletedOnPrimaryOnly.delete(id);
      await this.#checkPrimary(options, operation, id, values);
      return;
    }
    this.#onEvent({ kind: "backup-write-failed", operation, secretId: id, error: backup.error, served: true });
    if (operation === "delete") this.#rememberDeleted(id);
  }

  /** The primary was unavailable: the write goes to the backup alone, and says so. */
  async #backupOnly(
    options: CallOptions,
    operation: "store" | "update" | "delete",
    id: string,
    primaryError: SecretStoreError,
    values: SecretValues | undefined,
    run: () => Promise<void>,
  ): Promise<void> {
    const backup = await this.#attempt(options, this.#backupName, operation, id, values, run);
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
    options: CallOptions,
    operation: "update" | "delete",
    id: string,
    values: SecretValues | undefined,
    notFound: SecretStoreError,
    run: () => Promise<void>,
  ): Promise<void> {
    const backup = await this.#attempt(options, this.#backupName, operation, id, values, run);
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
