/**
 * Copying every secret of one store to another: what `omnisecret backup`, `restore` and
 * `migrate` run. Each copy is read back from the target and compared before it counts, and
 * before its source is deleted (`deleteSource`), so a run that is interrupted (a fault, an
 * abort, a crash) and run again ends the same way: nothing lost, nothing twice.
 *
 * Per secret: get from the source; store on the target (an existing target secret is read:
 * the same values count as copied, different ones are a conflict, left alone unless `overwrite`
 * is `"replace"`); get from the target and compare; then, with `deleteSource`, delete the source
 * only if it still holds what was copied (`expectedValues`: atomic on vault, local and memory; a
 * read, a comparison and a delete elsewhere). A source updated meanwhile stays, reported as
 * `E_SECRET_CHANGED`. The summary names ids and error codes, never a value.
 *
 * Refused before anything is read (`E_CONFIG`): a target that is the source itself (the same
 * adapter, or the same provider, location, prefix and owner: every copy would be "already there"
 * and, with `deleteSource`, every secret deleted), and `deleteSource` into a target that does not
 * outlive the process (the memory store).
 */
import { isDeepStrictEqual } from "node:util";
import { forEachConcurrently } from "./concurrency.js";
import { resolveConfigWithBackup, splitBackupConfig } from "./config.js";
import type { SecretValues } from "./contract.js";
import { ConfigError, errorCodeOf, isSecretStoreError, type SecretStoreErrorCode } from "./errors.js";
import { placeOfStore, SecretStore } from "./secret-store.js";

export interface CopySecretsOptions {
  /**
   * How many secrets are copied at once.
   * @default 8
   */
  concurrency?: number;
  /** Reads both sides and reports what a run would do; writes and deletes nothing. @default false */
  dryRun?: boolean;
  /**
   * A target secret that exists with different values: `"never"` leaves it alone and reports a
   * conflict (`E_SECRET_EXISTS`); `"replace"` overwrites it. The same values always count as copied.
   * @default "never"
   */
  overwrite?: "never" | "replace";
  /** Deletes each source secret once its copy was read back from the target and matched. @default false */
  deleteSource?: boolean;
  /** Stops starting new secrets; the ones under way finish, and the summary says `aborted`. */
  signal?: AbortSignal;
  /** Called after each secret, and once before the first with `done: 0`. */
  onProgress?: (progress: CopyProgress) => void;
}

export interface CopyProgress {
  /** Secrets the source listed. */
  readonly total: number;
  /** Secrets finished so far, whatever their outcome. */
  readonly done: number;
  readonly copied: number;
  readonly skipped: number;
  readonly failed: number;
}

/** One secret that was not copied: its id and the error code, never a value. */
export interface CopyFailure {
  readonly id: string;
  readonly code: SecretStoreErrorCode;
  /** The error's message (omnisecret's messages carry no values). */
  readonly message: string;
}

export interface CopySummary {
  /** Secrets the source listed. */
  readonly total: number;
  /**
   * Ids whose values the target now holds, verified: copied by this run, or already there with
   * the same values. In a dry run: the ids a run would copy or finds already copied.
   */
  readonly copied: readonly string[];
  /** Of `copied`, those the target already held with the same values (nothing was written). */
  readonly alreadyPresent: number;
  /** Ids listed by the source but gone before they were read (deleted meanwhile): nothing to copy. */
  readonly skipped: readonly string[];
  /** Ids not copied, with the reason; a conflict is `E_SECRET_EXISTS`. In a dry run: what a run would meet. */
  readonly failed: readonly CopyFailure[];
  /** Source secrets deleted (with `deleteSource`). */
  readonly deleted: number;
  /** Whether the signal stopped the run before every secret was tried. */
  readonly aborted: boolean;
  readonly dryRun: boolean;
}

type Outcome =
  | { kind: "copied"; alreadyPresent: boolean; deleted: boolean }
  | { kind: "skipped" }
  | { kind: "failed"; failure: CopyFailure };

/**
 * Copies every secret `from` lists into `to`; see the module comment. Resolves with the summary
 * (even when aborted); rejects only when the source cannot be listed.
 */
export async function copySecrets(
  from: SecretStore,
  to: SecretStore,
  options: CopySecretsOptions = {},
): Promise<CopySummary> {
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError("concurrency must be a positive integer");
  await assertCopyable(from, to, options.deleteSource === true);
  const ids: string[] = [];
  for await (const id of from.listSecretIds()) {
    if (options.signal?.aborted) break;
    ids.push(id);
  }
  const copied: string[] = [];
  const skipped: string[] = [];
  const failed: CopyFailure[] = [];
  let alreadyPresent = 0;
  let deleted = 0;
  let done = 0;
  const report = () =>
    options.onProgress?.({
      total: ids.length,
      done,
      copied: copied.length,
      skipped: skipped.length,
      failed: failed.length,
    });
  report();
  await forEachConcurrently(
    ids,
    concurrency,
    async (id) => {
      const outcome = await copyOne(from, to, id, options).catch((error: unknown) => failure(id, error));
      if (outcome.kind === "copied") {
        copied.push(id);
        if (outcome.alreadyPresent) alreadyPresent += 1;
        if (outcome.deleted) deleted += 1;
      } else if (outcome.kind === "skipped") skipped.push(id);
      else failed.push(outcome.failure);
      done += 1;
      report();
    },
    options.signal,
  );
  return {
    total: ids.length,
    copied,
    alreadyPresent,
    skipped,
    failed,
    deleted,
    aborted: options.signal?.aborted === true && done < ids.length,
    dryRun: options.dryRun === true,
  };
}

async function copyOne(from: SecretStore, to: SecretStore, id: string, options: CopySecretsOptions): Promise<Outcome> {
  let values: SecretValues;
  try {
    values = await from.getSecretValues(id);
  } catch (error) {
    if (errorCodeOf(error) === "E_SECRET_NOT_FOUND") return { kind: "skipped" };
    throw error;
  }
  const existing = await readOrMissing(to, id);
  if (options.dryRun) {
    if (existing !== undefined && !isDeepStrictEqual(existing, values) && options.overwrite !== "replace") {
      return failure(id, conflict(id));
    }
    return {
      kind: "copied",
      alreadyPresent: existing !== undefined && isDeepStrictEqual(existing, values),
      deleted: false,
    };
  }

  let alreadyPresent = false;
  if (existing === undefined) {
    try {
      await to.storeSecretValues(id, values);
    } catch (error) {
      // A racing writer (or a store whose answer was lost) made it meanwhile: judged like any existing secret.
      if (errorCodeOf(error) !== "E_SECRET_EXISTS") throw error;
      const now = await readOrMissing(to, id);
      // Exists but cannot be read: someone else's secret under this name. Never touched.
      if (now === undefined) return failure(id, conflict(id));
      if (!isDeepStrictEqual(now, values)) {
        if (options.overwrite !== "replace") return failure(id, conflict(id));
        await to.updateSecretValues(id, values);
      } else alreadyPresent = true;
    }
  } else if (!isDeepStrictEqual(existing, values)) {
    if (options.overwrite !== "replace") return failure(id, conflict(id));
    await to.updateSecretValues(id, values);
  } else alreadyPresent = true;

  // Verified: read back from the target and compared, before anything is deleted.
  const readBack = await readOrMissing(to, id);
  if (readBack === undefined || !isDeepStrictEqual(readBack, values)) {
    return failure(id, {
      code: "E_SECRET_INTEGRITY",
      message: `secret ${id} read back from the target does not match the source`,
    });
  }
  let deleted = false;
  if (options.deleteSource) {
    try {
      // Only what was copied: an update made meanwhile must not go with it.
      await from.deleteSecretValues(id, { expectedValues: values });
      deleted = true;
    } catch (error) {
      // Already gone (an earlier run, or someone else): the copy is what counts.
      if (errorCodeOf(error) === "E_SECRET_CHANGED") {
        return failure(id, {
          code: "E_SECRET_CHANGED",
          message: `secret ${id} was updated on the source after it was copied; the source was left in place (run again with overwrite to copy its new values)`,
        });
      }
      if (errorCodeOf(error) !== "E_SECRET_NOT_FOUND") throw error;
    }
  }
  return { kind: "copied", alreadyPresent, deleted };
}

async function readOrMissing(store: SecretStore, id: string): Promise<SecretValues | undefined> {
  try {
    return await store.getSecretValues(id);
  } catch (error) {
    if (errorCodeOf(error) === "E_SECRET_NOT_FOUND") return undefined;
    throw error;
  }
}

/** The refusals of the module comment, before anything is read. */
async function assertCopyable(from: SecretStore, to: SecretStore, deleteSource: boolean): Promise<void> {
  const source = placeOfStore(from);
  const target = placeOfStore(to);
  const sameAdapter = source?.adapters.some((adapter) => target?.adapters.includes(adapter)) === true;
  const none: readonly string[] = [];
  const [sourceKeys, targetKeys] = await Promise.all([source?.keys() ?? none, target?.keys() ?? none]);
  const sharedKey = sourceKeys.some((key) => targetKeys.includes(key));
  if (from === to || sameAdapter || sharedKey) {
    throw new ConfigError(
      `the target is the source itself (provider "${to.provider}", the same location, prefix and owner): every secret would count as copied already${deleteSource ? " and then be deleted, the only copy" : ""}; give the target another location, prefix or owner`,
      { provider: to.provider, field: "to" },
    );
  }
  if (deleteSource && target?.durable === false) {
    throw new ConfigError(
      `the target (provider "${to.provider}") does not outlive this process: deleting the sources would lose every secret when it ends; copy to a durable store, or without deleting the sources`,
      { provider: to.provider, field: "to" },
    );
  }
}

function conflict(id: string): { code: SecretStoreErrorCode; message: string } {
  return {
    code: "E_SECRET_EXISTS",
    message: `secret ${id} exists on the target with other values (or is not this store's); left alone`,
  };
}

function failure(id: string, error: unknown): { kind: "failed"; failure: CopyFailure } {
  if (isSecretStoreError(error)) return { kind: "failed", failure: { id, code: error.code, message: error.message } };
  const { code, message } = error as { code?: SecretStoreErrorCode; message?: string };
  if (typeof code === "string" && typeof message === "string")
    return { kind: "failed", failure: { id, code, message } };
  return { kind: "failed", failure: { id, code: "E_UNKNOWN", message: `copy of secret ${id} failed` } };
}

/**
 * Opens the primary and the backup of a config that has `backup` as two separate stores (what
 * `omnisecret backup` and `restore` copy between); the same checks as `SecretStore.create`.
 */
export async function openPrimaryAndBackup(
  config: Record<string, unknown>,
): Promise<{ primary: SecretStore; backup: SecretStore }> {
  const { backup: resolvedBackup } = await resolveConfigWithBackup(config);
  const { primary: rawPrimary } = splitBackupConfig(config);
  if (resolvedBackup === undefined) {
    throw new ConfigError(
      "no backup store is configured: add `backup` to the config, or set OMNISECRET_BACKUP_CONFIG",
      { field: "backup" },
    );
  }
  const primary = await SecretStore.create(rawPrimary as Record<string, unknown>);
  try {
    // The backup as the backup store uses it: with the prefix and owner it inherits from the primary.
    return { primary, backup: await SecretStore.create(resolvedBackup.input) };
  } catch (error) {
    await primary.close().catch(() => undefined);
    throw error;
  }
}
