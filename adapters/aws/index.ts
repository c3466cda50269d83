/**
 * AWS Secrets Manager. A secret is named `<prefix>/<owner>/<uuid>`, so the name alone says whose
 * it is, and is tagged with its id and its owner (for people, for `list` and for strict mode).
 *
 * Requests, default config: store 1 (CreateSecret with the tags; a DescribeSecret more, and a
 * force delete and another CreateSecret, only when the create fails with the name taken);
 * get 1 (GetSecretValue by name); update 1 (PutSecretValue by name, which fails on a missing
 * secret, so update never creates); delete 2 (DeleteSecret by name with a recovery window, which
 * only one of several racing deletes wins, then DeleteSecret with ForceDeleteWithoutRecovery on
 * the ARN it returned, so the name is free again at once and a secret stored at the name in
 * between is not touched). A secret pending deletion (deleted with a recovery window, outside
 * omnisecret too) is not found: AWS refuses reads, writes and a second scheduling of it. The
 * scheduling DeleteSecret is the one request whose SDK retry can mislead: retried after an
 * attempt whose answer was lost, it is told "already scheduled" either way, so the delete then
 * ends E_PROVIDER_UNAVAILABLE rather than claim success or not found.
 *
 * getMany (the facade's `getManySecretValues`): one BatchGetSecretValue per 20 ids, by name,
 * each secret answered on its own (values, or an error such as not found).
 *
 * `verifyOwnership: true` sends DescribeSecret first and checks the tags, then acts on the ARN
 * it returned, so a foreign secret's value is never fetched and a secret swapped in between is
 * not touched either: get 2, update 2, delete 3; no batch (it would fetch values before their
 * tags are seen), so getMany is a get per id, 2 requests each.
 *
 * getSecretRevision (what a watch polls): 1, DescribeSecret by name (tags checked with
 * `verifyOwnership`); no value is read.
 *
 * list: ListSecrets, one request per page, filtered on the name prefix `<prefix>/<owner>/`.
 *
 * Versions: AWS labels the current version AWSCURRENT and moves AWSPREVIOUS to the one current
 * before it on every PutSecretValue; a version without a label is deprecated, and AWS removes it
 * when it chooses (no call destroys one). So `keepVersions` is 1 or 2: with 2, "previous" is
 * AWSPREVIOUS; with 1 nothing but the current version is readable through omnisecret, though
 * AWSPREVIOUS stays in AWS. A token is `<ARN suffix>.<VersionId>`: the six random characters AWS
 * puts at the end of a secret's ARN when it creates it name the incarnation, and every answer
 * carries the ARN, so checking it costs no request. get "previous" 1 (GetSecretValue with
 * VersionStage AWSPREVIOUS; none with keepVersions 1, which answers not found at once); get by
 * token 1 (GetSecretValue with VersionId; its ARN and labels are checked before the values are
 * returned); listSecretVersions 1 per 100 versions (ListSecretVersionIds with deprecated versions);
 * `verifyOwnership` adds its DescribeSecret to each. keepVersions changes no other operation.
 *
 * Every operation is bounded by `operationTimeoutMs` (each page for list), each request by
 * `requestTimeoutMs` (the SDK handler's request and connection timeouts).
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  ListSecretVersionIdsCommand,
  type ListSecretVersionIdsCommandOutput,
  PutSecretValueCommand,
  paginateListSecrets,
  SecretsManagerClient,
  type Tag,
} from "@aws-sdk/client-secrets-manager";
import type * as SdkRetry from "@smithy/core/retry";
import type { ConfiguredRetryStrategy } from "@smithy/core/retry";
import {
  type AdapterCapabilities,
  type AdapterContext,
  backoffDelayMs,
  ConfigError,
  currentOperation,
  type Deadline,
  DeadlineBoundAdapter,
  InvalidVersionError,
  isSecretStoreError,
  NAME_RELEASE_BACKOFF,
  Ownership,
  ProviderUnavailableError,
  parseStoredValues,
  parseVersionToken,
  REQUEST_BACKOFF,
  RequestRunner,
  SecretAlreadyExistsError,
  SecretIntegrityError,
  SecretNotFoundError,
  type SecretsAdapter,
  type SecretValues,
  type SecretVersion,
  sendAttempt,
  versionToken,
} from "../../src/kit/index.js";
import { isPendingDeletion, mapAwsError, PROVIDER } from "./errors.js";
import type { ResolvedAwsOptions } from "./options.js";

export type { AwsOptions } from "./options.js";

export const ID_TAG = "omnisecret:id";
export const OWNER_TAG = "omnisecret:owner";

/** A secret's name, `<prefix>/<owner>/<uuid>`, and its tags (no managed-by tag). */
const NAMING = { separator: "/", marks: { owner: OWNER_TAG, id: ID_TAG } } as const;

/** AWS's limit on SecretString. */
export const AWS_MAX_VALUE_BYTES = 65_536;

/** AWS's limit on the SecretIdList of one BatchGetSecretValue. */
export const AWS_MAX_BATCH_SIZE = 20;

/** A version id: AWS's own (a UUID) or a `ClientRequestToken` (this adapter's are UUIDs; AWS allows 32-64 characters). */
const VERSION_ID = /^[A-Za-z0-9-]{32,64}$/;

/** The six random characters AWS puts at the end of a secret's ARN when it creates the secret. */
const ARN_SUFFIX = /^[A-Za-z0-9]{6}$/;

/** AWS's staging labels of the current version and of the one current before it. */
const CURRENT = "AWSCURRENT";
const PREVIOUS = "AWSPREVIOUS";

/**
 * The incarnation of the secret named `name` whose ARN is `arn`: the six random characters AWS
 * appends to the name in the ARN when it creates a secret, so that "if you create a new secret
 * with the same name as an old secret that you previously deleted, then users with access to the
 * old ARN don't automatically get access to the new secret" (AWS's docs). Every answer about a
 * secret carries its ARN, so a token costs no request to make or to check, unlike the secret's
 * CreatedDate (which only DescribeSecret answers). Undefined for an ARN without such a suffix.
 */
function incarnationOfArn(arn: string | undefined, name: string): string | undefined {
  const marker = `:secret:${name}-`;
  if (arn === undefined || !arn.includes(marker)) return undefined;
  const suffix = arn.slice(arn.lastIndexOf(marker) + marker.length);
  return ARN_SUFFIX.test(suffix) ? suffix : undefined;
}

/**
 * The SDK's retry strategy for `maxAttempts`, from the copy of its retry module the SDK itself
 * loads (an import from here could find another copy, or none where packages are not hoisted):
 * its standard strategy (which errors, its retry quota, a Retry-After hint) with the kit's waits.
 */
function requestRetryStrategy(maxAttempts: number): ConfiguredRetryStrategy {
  const sdkEntry = createRequire(import.meta.url).resolve("@aws-sdk/client-secrets-manager");
  const retry = createRequire(sdkEntry)("@smithy/core/retry") as typeof SdkRetry;
  return new retry.ConfiguredRetryStrategy(maxAttempts, (retryNumber) => backoffDelayMs(REQUEST_BACKOFF, retryNumber));
}

/** Thrown inside the re-create loop while AWS still holds a deleted secret's name. */
class NameStillHeld extends Error {
  override name = "NameStillHeld";
}

/**
 * Counts each attempt the SDK sends as one of the traced operation's requests, a retry under a
 * child span: below the SDK's retry step, which numbers its attempts in the `amz-sdk-request`
 * header. Nothing but one lookup when no span records.
 */
function countAttempts(client: SecretsManagerClient): void {
  client.middlewareStack.add(
    (next) => (args) => {
      if (currentOperation() === undefined) return next(args);
      const header = (args.request as { headers?: Record<string, string> }).headers?.["amz-sdk-request"];
      const attempt = Number(/attempt=(\d+)/.exec(header ?? "")?.[1] ?? 1);
      return sendAttempt(attempt, () => next(args));
    },
    // The retry middleware is at this step with a high priority: a low one runs inside its loop.
    { step: "finalizeRequest", priority: "low", name: "omnisecretAttempts" },
  );
}

/**
 * Watches the attempts the SDK makes for one command (its retry step sits above this one):
 * `mayHaveRun` turns true once an attempt failed in a way that does not show the server refused
 * it (no answer, a timeout, a 5xx), so that the request may have been applied before a retry.
 */
function watchAttempts(command: DeleteSecretCommand): { readonly mayHaveRun: boolean } {
  const watch = { mayHaveRun: false };
  const refused = (status: unknown) => typeof status === "number" && status < 500;
  command.middlewareStack.add(
    (next) => async (args) => {
      try {
        const result = await next(args);
        if (!refused((result.response as { statusCode?: unknown }).statusCode)) watch.mayHaveRun = true;
        return result;
      } catch (error) {
        const { $metadata, $response } = (error ?? {}) as {
          $metadata?: { httpStatusCode?: unknown };
          $response?: { statusCode?: unknown };
        };
        if (!refused($metadata?.httpStatusCode ?? $response?.statusCode)) watch.mayHaveRun = true;
        throw error;
      }
    },
    { step: "deserialize", name: "omnisecretAttemptWatch" },
  );
  return watch;
}

/** Marks as AWS takes them: a list of `{ Key, Value }` tags. */
function tagsOf(marks: Record<string, string>): Tag[] {
  return Object.entries(marks).map(([Key, Value]) => ({ Key, Value }));
}

/** The marks of a secret's tags; of two tags with one key (AWS allows none), the first. */
function marksOf(tags: readonly Tag[] | undefined): Record<string, string> {
  // No prototype: a tag named like one of Object's properties is a tag like any other.
  const marks: Record<string, string> = Object.create(null);
  for (const { Key, Value } of tags ?? []) {
    if (Key !== undefined && Value !== undefined && !Object.hasOwn(marks, Key)) marks[Key] = Value;
  }
  return marks;
}

/**
 * The SDK options of a request sent for an operation: its deadline's signal, which the SDK checks
 * before each attempt (it retries a timed-out request on its own) and which aborts the request in
 * flight when the deadline passes, so no attempt outlives the operation.
 */
function within(deadline: Deadline): { abortSignal: AbortSignal } {
  return { abortSignal: deadline.signal };
}

export class AwsSecretsAdapter extends DeadlineBoundAdapter {
  readonly provider = PROVIDER;
  /**
   * `batchGet`: up to `maxBatchSize` secrets with one BatchGetSecretValue, by default only: strict
   * mode must check each secret's tags before its value is fetched, which a batch cannot (it
   * answers values without tags), so there the facade's per-id gets remain.
   */
  readonly capabilities: AdapterCapabilities;
  readonly #client: SecretsManagerClient;
  readonly #ownsClient: boolean;
  readonly #ownership: Ownership;
  readonly #options: ResolvedAwsOptions;
  /** A store's CreateSecret, sent again while AWS frees the name of a deleted secret; failures as they are. */
  readonly #recreate: RequestRunner;

  constructor(options: ResolvedAwsOptions, context: AdapterContext) {
    super(options);
    this.#options = options;
    this.#ownership = new Ownership({ prefix: context.prefix, owner: options.owner, ...NAMING });
    this.#recreate = new RequestRunner({
      attempts: options.recreateAttempts,
      backoff: NAME_RELEASE_BACKOFF,
      isRetryable: (error) => error instanceof NameStillHeld,
    });
    this.#ownsClient = options.client === undefined;
    this.#client =
      // The options type describes an injected client structurally, so it compiles without the SDK.
      (options.client as SecretsManagerClient | undefined) ??
      new SecretsManagerClient({
        ...(options.region ? { region: options.region } : {}),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        // A copy: the SDK writes bookkeeping fields into the credentials object it is given.
        ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
        maxAttempts: options.maxAttempts,
        // The SDK's own retries (throttling, 5xx, timeouts), waiting as every adapter's do.
        retryStrategy: requestRetryStrategy(options.maxAttempts),
        // Without these the SDK waits for an answer for ever. throwOnRequestTimeout: without it
        // requestTimeout only logs a warning.
        requestHandler: {
          requestTimeout: options.requestTimeoutMs,
          connectionTimeout: options.requestTimeoutMs,
          throwOnRequestTimeout: true,
        },
      });
    // An injected client is the caller's: no middleware is added to it.
    if (this.#ownsClient) countAttempts(this.#client);
    this.capabilities = {
      maxValueBytes: AWS_MAX_VALUE_BYTES,
      batchGet: !options.verifyOwnership,
      maxBatchSize: AWS_MAX_BATCH_SIZE,
      list: true,
      versions: true,
      revision: true,
    };
  }

  /**
   * DescribeSecret: the AWSCURRENT version's id (a new one on every PutSecretValue), after the
   * ARN (a new one for a secret stored again). Not LastChangedDate: it counts whole seconds.
   */
  protected override async readRevision(id: string, deadline: Deadline): Promise<string> {
    const described = await this.#send(id, () =>
      this.#client.send(new DescribeSecretCommand({ SecretId: this.#ownership.nameOf(id) }), within(deadline)),
    );
    if (described.DeletedDate || !described.ARN) throw new SecretNotFoundError(id, { provider: PROVIDER });
    if (this.#options.verifyOwnership && !this.#ownership.isOwned(marksOf(described.Tags), id)) {
      throw new SecretNotFoundError(id, { provider: PROVIDER });
    }
    const current = Object.entries(described.VersionIdsToStages ?? {}).find(([, stages]) =>
      stages.includes("AWSCURRENT"),
    );
    // A secret without a current version (created without a value outside omnisecret): get finds nothing either.
    if (current === undefined) throw new SecretNotFoundError(id, { provider: PROVIDER });
    return `${described.ARN}.${current[0]}`;
  }

  protected override async storeValues(
    id: string,
    _values: SecretValues,
    serialized: string,
    deadline: Deadline,
  ): Promise<void> {
    // The SDK re-sends this token on its own retries, so a create that timed out but succeeded is
    // not made twice: AWS answers the retry with success. Where the retry is answered
    // ResourceExistsException instead (LocalStack does), the token tells whether the secret's
    // version is this store's own (see #createdWithToken).
    const token = randomUUID();
    const create = () =>
      this.#client.send(
        new CreateSecretCommand({
          Name: this.#ownership.nameOf(id),
          SecretString: serialized,
          Tags: tagsOf(this.#ownership.marksFor(id)),
          ...(this.#options.kmsKeyId ? { KmsKeyId: this.#options.kmsKeyId } : {}),
          ClientRequestToken: token,
        }),
        within(deadline),
      );
    try {
      await this.#recreate.run(deadline, async () => {
        try {
          await create();
        } catch (error) {
          if (await this.#createdWithToken(error, id, token, deadline)) return;
          if (await this.#nameHeldByDeletedSecret(error, id, deadline)) {
            throw new NameStillHeld(undefined, { cause: error });
          }
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof NameStillHeld) {
        throw new ProviderUnavailableError(id, {
          provider: PROVIDER,
          message: `AWS still holds the name ${this.#ownership.nameOf(id)} of a deleted secret after ${this.#options.recreateAttempts} attempts; try again later`,
          cause: error.cause,
        });
      }
      // A name held by a secret pending deletion that is not ours to free (strict mode, other tags):
      // the id is taken, not missing.
      if (isPendingDeletion(error)) {
        throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: error });
      }
      throw this.#map(error, id);
    }
  }

  protected override async readValues(id: string, deadline: Deadline, version?: string): Promise<SecretValues> {
    if (version === undefined) {
      const secretId = await this.#target(id, deadline);
      const result = await this.#send(id, () =>
        this.#client.send(new GetSecretValueCommand({ SecretId: secretId }), within(deadline)),
      );
      return this.#parseValue(result.SecretString, id);
    }
    return version === "previous" ? this.#readPrevious(id, deadline) : this.#readVersion(id, version, deadline);
  }

  /** "previous": the version labelled AWSPREVIOUS, which AWS moves there from AWSCURRENT on each update. */
  async #readPrevious(id: string, deadline: Deadline): Promise<SecretValues> {
    if (this.#options.keepVersions < 2) {
      throw new SecretNotFoundError(id, {
        provider: PROVIDER,
        message: `secret ${id} has no previous version readable through omnisecret (keepVersions is 1)`,
      });
    }
    const secretId = await this.#target(id, deadline);
    try {
      const result = await this.#client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionStage: PREVIOUS }),
        within(deadline),
      );
      return this.#parseValue(result.SecretString, id);
    } catch (error) {
      // ResourceNotFoundException both for a missing secret and for one without an AWSPREVIOUS
      // version (stored, never updated); only the message tells them apart.
      const { name, message } = (error ?? {}) as { name?: string; message?: string };
      if (name === "ResourceNotFoundException" && /staging label/i.test(message ?? "")) {
        throw new SecretNotFoundError(id, {
          provider: PROVIDER,
          message: `secret ${id} has no previous version (it was not updated since it was stored)`,
          cause: error,
        });
      }
      throw this.#map(error, id);
    }
  }

  /**
   * A version by its token: GetSecretValue by VersionId, on the name (default) or on the ARN
   * DescribeSecret returned (strict, whose incarnation is checked before the value is fetched).
   * The answer's ARN names the secret's incarnation and its labels whether omnisecret keeps the
   * version, both as of the read itself.
   */
  async #readVersion(id: string, token: string, deadline: Deadline): Promise<SecretValues> {
    const parsed = this.#parseToken(token);
    if (parsed === undefined) throw new InvalidVersionError(id, "is not a version token of this AWS store");
    const name = this.#ownership.nameOf(id);
    // The token is not echoed, as InvalidVersionError does not: it may have been pasted from anywhere.
    const gone = (cause?: unknown) =>
      new SecretNotFoundError(id, {
        provider: PROVIDER,
        message: `that version of secret ${id} is gone: the secret was deleted since, or the version is no longer one of the ${this.#options.keepVersions} kept (keepVersions)`,
        cause,
      });
    const secretId = await this.#target(id, deadline);
    if (this.#options.verifyOwnership && incarnationOfArn(secretId, name) !== parsed.incarnation) throw gone();
    let result: GetSecretValueCommandOutput;
    try {
      result = await this.#client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionId: parsed.native }),
        within(deadline),
      );
    } catch (error) {
      // The secret exists but has no such version (AWS removed it, or it never was this secret's).
      if ((error as { name?: string } | null)?.name === "ResourceNotFoundException") throw gone(error);
      throw this.#map(error, id);
    }
    if (incarnationOfArn(result.ARN, name) !== parsed.incarnation || !this.#isKept(result.VersionStages)) throw gone();
    return this.#parseValue(result.SecretString, id);
  }

  /** Whether a version with these staging labels is readable through omnisecret: current, or previous with keepVersions 2. */
  #isKept(stages: readonly string[] | undefined): boolean {
    return (stages ?? []).some((stage) => stage === CURRENT || (stage === PREVIOUS && this.#options.keepVersions >= 2));
  }

  #parseToken(token: string): { readonly incarnation: string; readonly native: string } | undefined {
    const parsed = parseVersionToken(token, VERSION_ID);
    return parsed && ARN_SUFFIX.test(parsed.incarnation) ? parsed : undefined;
  }

  isVersionToken(token: string): boolean {
    return this.#parseToken(token) !== undefined;
  }

  /**
   * ListSecretVersionIds with deprecated versions (those AWS keeps without a label for a while),
   * one request per page of up to 100, newest first. AWS lists no version of a missing secret.
   */
  protected override async listVersions(id: string, deadline: Deadline): Promise<readonly SecretVersion[]> {
    const name = this.#ownership.nameOf(id);
    const secretId = await this.#target(id, deadline);
    const versions: (SecretVersion & { readonly rank: number; readonly order: number })[] = [];
    let nextToken: string | undefined;
    let order = 0;
    do {
      const page: ListSecretVersionIdsCommandOutput = await this.#send(id, () =>
        this.#client.send(
          new ListSecretVersionIdsCommand({
            SecretId: secretId,
            IncludeDeprecated: true,
            MaxResults: 100,
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
          within(deadline),
        ),
      );
      const incarnation = incarnationOfArn(page.ARN, name);
      if (incarnation === undefined) {
        throw new Error(`AWS answered the versions of secret ${id} with an ARN not ending in its random suffix`);
      }
      for (const { VersionId, VersionStages, CreatedDate } of page.Versions ?? []) {
        order += 1;
        // A version made outside omnisecret with a ClientRequestToken no token can carry is left out.
        if (VersionId === undefined || !VERSION_ID.test(VersionId) || CreatedDate === undefined) continue;
        const stages = VersionStages ?? [];
        versions.push({
          token: versionToken(incarnation, VersionId),
          createdAt: CreatedDate,
          current: stages.includes(CURRENT),
          readable: this.#isKept(stages),
          rank: stages.includes(CURRENT) ? 0 : stages.includes(PREVIOUS) ? 1 : 2,
          order,
        });
      }
      nextToken = page.NextToken;
    } while (nextToken);
    // Versions of one clock tick tie on CreatedDate (LocalStack gives it in whole seconds): the
    // current one first, then the previous one, then the later in AWS's answer (oldest first).
    versions.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || a.rank - b.rank || b.order - a.order);
    return versions.map(({ rank: _rank, order: _order, ...version }) => version);
  }

  #parseValue(secretString: string | undefined, id: string): SecretValues {
    if (typeof secretString !== "string") {
      throw new SecretIntegrityError(id, "the secret holds binary data, not omnisecret's JSON", { provider: PROVIDER });
    }
    return parseStoredValues(secretString, id, PROVIDER);
  }

  /**
   * One BatchGetSecretValue for all of `ids` (at most 20, distinct): each id gets its values or
   * the error a get of it would have thrown. AWS answers per secret, in `SecretValues` or in
   * `Errors` (missing, pending deletion, denied), in no promised order, so answers are matched
   * by name.
   */
  protected override async readManyValues(
    ids: readonly string[],
    deadline: Deadline,
  ): Promise<Map<string, SecretValues | Error>> {
    const idOfName = new Map(ids.map((id) => [this.#ownership.nameOf(id), id]));
    const answer = await this.#send(undefined, () =>
      this.#client.send(new BatchGetSecretValueCommand({ SecretIdList: [...idOfName.keys()] }), within(deadline)),
    );
    // An id AWS answered neither way stays out of the map; the facade reports it as unknown.
    const results = new Map<string, SecretValues | Error>();
    for (const secret of answer.SecretValues ?? []) {
      const id = idOfName.get(secret.Name ?? "");
      if (id === undefined) continue;
      try {
        results.set(id, this.#parseValue(secret.SecretString, id));
      } catch (error) {
        results.set(id, error as Error);
      }
    }
    for (const failure of answer.Errors ?? []) {
      const id = idOfName.get(failure.SecretId ?? "");
      if (id === undefined) continue;
      // The name and message of the exception a GetSecretValue of it would have thrown, so it
      // maps the same way: a secret pending deletion is not found, as for a get.
      const error = Object.assign(new Error(failure.Message ?? failure.ErrorCode), { name: failure.ErrorCode ?? "" });
      results.set(id, this.#map(error, id) as Error);
    }
    return results;
  }

  protected override async updateValues(
    id: string,
    _values: SecretValues,
    serialized: string,
    deadline: Deadline,
  ): Promise<void> {
    const secretId = await this.#target(id, deadline);
    // PutSecretValue answers ResourceNotFoundException for a missing secret: update never creates.
    await this.#send(id, () =>
      this.#client.send(
        new PutSecretValueCommand({ SecretId: secretId, SecretString: serialized, ClientRequestToken: randomUUID() }),
        within(deadline),
      ),
    );
  }

  protected override async deleteValues(id: string, deadline: Deadline): Promise<void> {
    const secretId = await this.#target(id, deadline);
    // The decision: scheduling the deletion succeeds for one caller only. Concurrent deletes are
    // told it is already scheduled, or (once it is gone) that it does not exist; so is a strict
    // delete whose secret was replaced after its DescribeSecret (another ARN). All mean not found.
    // A force delete alone answers success for a missing secret, and would report every racer a
    // success.
    const command = new DeleteSecretCommand({ SecretId: secretId, RecoveryWindowInDays: 7 });
    const attempts = watchAttempts(command);
    let arn: string | undefined;
    try {
      ({ ARN: arn } = await this.#client.send(command, within(deadline)));
    } catch (error) {
      const name = (error as { name?: string } | null)?.name;
      if (isPendingDeletion(error) || name === "ResourceNotFoundException") {
        // The SDK sent it again after an attempt whose answer was lost (a timeout, a reset, a
        // 5xx): that attempt may have scheduled the deletion itself, or another delete may have.
        // Which one cannot be told, so neither success nor not found would be honest. The secret
        // is unreadable either way; if it is still scheduled, the next store of the id frees it.
        if (attempts.mayHaveRun) {
          throw new ProviderUnavailableError(id, {
            provider: PROVIDER,
            message: `the answer to deleting secret ${id} was lost, and whether it was this delete that removed it is unknown`,
            cause: error,
          });
        }
        throw new SecretNotFoundError(id, { provider: PROVIDER, cause: error });
      }
      throw this.#map(error, id);
    }
    // Then for good, so the name can be stored again at once: on the ARN, never the name, since a
    // store may have freed the name and made a new secret there meanwhile. (Without an ARN, which
    // AWS always returns, the secret stays scheduled, and the next store of the id frees the name.)
    if (arn) await this.#forceDelete(id, arn, deadline);
  }

  protected override async *listIds(stepDeadline: () => Deadline): AsyncIterable<string> {
    const strict = this.#options.verifyOwnership;
    // A case-sensitive prefix match. By default no tag filter: a secret at one of this owner's
    // names is this owner's even without the tags (get reads it), so list shows it too. Strict
    // mode lists only what it would read: the tags narrow the pages on the server, and are
    // checked exactly below (the filters are prefix matches and may pair one tag's key with
    // another's value).
    const pages = paginateListSecrets(
      { client: this.#client, pageSize: this.#options.listPageSize },
      {
        Filters: [
          { Key: "name", Values: [this.#ownership.nameStart] },
          ...(strict
            ? [
                { Key: "tag-key" as const, Values: [OWNER_TAG] },
                { Key: "tag-value" as const, Values: [this.#options.owner] },
              ]
            : []),
        ],
      },
      // Read by the SDK as each page's request is sent: that page's deadline.
      {
        get abortSignal() {
          return stepDeadline().signal;
        },
      },
    );
    try {
      for await (const page of pages) {
        for (const secret of page.SecretList ?? []) {
          const id = this.#ownership.idOfName(secret.Name ?? "");
          if (id && !secret.DeletedDate && (!strict || this.#ownership.isOwned(marksOf(secret.Tags), id))) yield id;
        }
      }
    } catch (error) {
      throw this.#map(error, undefined);
    }
  }

  close(): void {
    if (this.#ownsClient) this.#client.destroy();
  }

  /**
   * What get, update and delete address: by default the name, which is this owner's by
   * construction; with `verifyOwnership`, the ARN of the secret at that name once DescribeSecret
   * has shown it live and carrying this store's tags.
   */
  async #target(id: string, deadline: Deadline): Promise<string> {
    if (!this.#options.verifyOwnership) return this.#ownership.nameOf(id);
    const described = await this.#send(id, () =>
      this.#client.send(new DescribeSecretCommand({ SecretId: this.#ownership.nameOf(id) }), within(deadline)),
    );
    if (described.DeletedDate || !described.ARN || !this.#ownership.isOwned(marksOf(described.Tags), id)) {
      throw new SecretNotFoundError(id, { provider: PROVIDER });
    }
    return described.ARN;
  }

  /**
   * After a create answered ResourceExistsException: was the secret made by this very store, an
   * earlier attempt whose answer was lost? The token of a CreateSecret becomes the id of the
   * secret's first version, and only this store knows it, so a live secret with a version of
   * that id is this store's.
   */
  async #createdWithToken(error: unknown, id: string, token: string, deadline: Deadline): Promise<boolean> {
    if ((error as { name?: string } | null)?.name !== "ResourceExistsException") return false;
    let described: DescribeSecretCommandOutput;
    try {
      described = await this.#client.send(
        new DescribeSecretCommand({ SecretId: this.#ownership.nameOf(id) }),
        within(deadline),
      );
    } catch {
      return false;
    }
    return !described.DeletedDate && token in (described.VersionIdsToStages ?? {});
  }

  /**
   * After a failed create: is the name held by a deleted secret, so that a retry can succeed?
   * A secret deleted with a recovery window (outside omnisecret, or by a delete of ours that has
   * not yet force-deleted it) is force-deleted here, so the id can be stored again. By default
   * any secret at the name is this owner's, as for get, update and delete; with
   * `verifyOwnership` only one carrying this store's tags is, and another stays untouched, its
   * name taken.
   */
  async #nameHeldByDeletedSecret(error: unknown, id: string, deadline: Deadline): Promise<boolean> {
    const name = (error as { name?: string } | null)?.name;
    // AWS: InvalidRequestException "scheduled for deletion"; moto: ResourceExistsException.
    if (!isPendingDeletion(error) && name !== "ResourceExistsException") return false;
    let described: DescribeSecretCommandOutput;
    try {
      described = await this.#client.send(
        new DescribeSecretCommand({ SecretId: this.#ownership.nameOf(id) }),
        within(deadline),
      );
    } catch (describeError) {
      // Gone from DescribeSecret but not yet free for CreateSecret: AWS is finishing a force delete.
      return (describeError as { name?: string }).name === "ResourceNotFoundException" && isPendingDeletion(error);
    }
    if (!described.DeletedDate || !described.ARN) return false;
    if (this.#options.verifyOwnership && !this.#ownership.isOwned(marksOf(described.Tags), id)) return false;
    await this.#forceDelete(id, described.ARN, deadline);
    return true;
  }

  /**
   * A secret already gone is no error: another client force-deleted it first, which is all this
   * wanted. (AWS and LocalStack answer success then anyway.)
   */
  async #forceDelete(id: string, arn: string, deadline: Deadline): Promise<void> {
    try {
      await this.#client.send(
        new DeleteSecretCommand({ SecretId: arn, ForceDeleteWithoutRecovery: true }),
        within(deadline),
      );
    } catch (error) {
      if ((error as { name?: string } | null)?.name === "ResourceNotFoundException") return;
      throw this.#map(error, id);
    }
  }

  async #send<T>(id: string | undefined, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw this.#map(error, id);
    }
  }

  #map(error: unknown, id: string | undefined): unknown {
    if (isSecretStoreError(error)) return error;
    if (error instanceof Error && /region is missing/i.test(error.message)) {
      return new ConfigError("no AWS region is configured: set `region`, OMNISECRET_AWS_REGION or AWS_REGION", {
        provider: PROVIDER,
        field: "region",
        cause: error,
      });
    }
    return mapAwsError(error, id) ?? error;
  }
}

export function createAwsAdapter(options: ResolvedAwsOptions, context: AdapterContext): SecretsAdapter {
  return new AwsSecretsAdapter(options, context);
}
