/**
 * AWS Secrets Manager. A secret is named `<prefix>/<uuid>` and tagged with its id and its
 * owner; a secret under the prefix whose tags do not match is not found, and is never read,
 * changed or deleted through omnisecret.
 *
 * Requests: store 1 (CreateSecret; a DescribeSecret more when it is answered ResourceExists);
 * get and update 2 each (DescribeSecret to check the tags first, so a foreign secret's value is
 * never fetched, then the operation on the ARN it returned, so a secret swapped in between is not
 * touched either); delete 3 (DescribeSecret, DeleteSecret
 * with a recovery window on the ARN, which only one of several racing deletes wins, then
 * DeleteSecret with ForceDeleteWithoutRecovery so the name is free again at once).
 *
 * Every operation is bounded by `operationTimeoutMs` (each page for list), each request by
 * `requestTimeoutMs` (the SDK handler's request and connection timeouts).
 */
import { randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  PutSecretValueCommand,
  paginateListSecrets,
  SecretsManagerClient,
  type Tag,
} from "@aws-sdk/client-secrets-manager";
import type { AdapterContext, SecretsAdapter, SecretValues } from "../../src/contract.js";
import { currentDeadline, DeadlineBoundAdapter } from "../../src/deadline.js";
import {
  ConfigError,
  isSecretStoreError,
  ProviderUnavailableError,
  SecretIntegrityError,
  SecretNotFoundError,
} from "../../src/errors.js";
import { retryWithBackoff } from "../../src/retry.js";
import { parseStoredValues, secretNamePattern } from "../../src/validation.js";
import { isPendingDeletion, mapAwsError, PROVIDER } from "./errors.js";
import type { ResolvedAwsOptions } from "./options.js";

export type { AwsOptions } from "./options.js";

export const ID_TAG = "omnisecret:id";
export const OWNER_TAG = "omnisecret:owner";

/** AWS's limit on SecretString. */
export const AWS_MAX_VALUE_BYTES = 65_536;

/** Thrown inside the re-create loop while AWS still holds a deleted secret's name. */
class NameStillHeld extends Error {
  override name = "NameStillHeld";
}

export class AwsSecretsAdapter extends DeadlineBoundAdapter {
  readonly provider = PROVIDER;
  readonly maxValueBytes = AWS_MAX_VALUE_BYTES;
  readonly #client: SecretsManagerClient;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #options: ResolvedAwsOptions;

  constructor(options: ResolvedAwsOptions, context: AdapterContext) {
    super();
    this.#options = options;
    this.#prefix = context.prefix;
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
        // Without these the SDK waits for an answer for ever. throwOnRequestTimeout: without it
        // requestTimeout only logs a warning.
        requestHandler: {
          requestTimeout: options.requestTimeoutMs,
          connectionTimeout: options.requestTimeoutMs,
          throwOnRequestTimeout: true,
        },
      });
    if (this.#ownsClient) this.#stopAttemptsAfterDeadline();
  }

  /**
   * The SDK retries a timed-out request on its own; once the operation's deadline has passed
   * (and the operation has failed), no further attempt is sent. A step below the SDK's retry, so
   * it runs before every attempt.
   */
  #stopAttemptsAfterDeadline(): void {
    this.#client.middlewareStack.add(
      (next) => (args) => {
        currentDeadline()?.signal.throwIfAborted();
        return next(args);
      },
      { step: "deserialize", name: "omnisecretOperationDeadline" },
    );
  }

  /** The provider-native name of a secret. */
  nameOf(id: string): string {
    return `${this.#prefix}/${id}`;
  }

  protected get limits() {
    return this.#options;
  }

  protected override async storeValues(id: string, _values: SecretValues, serialized: string): Promise<void> {
    // The SDK re-sends this token on its own retries, so a create that timed out but succeeded is
    // not made twice: AWS answers the retry with success. Where the retry is answered
    // ResourceExistsException instead (LocalStack does), the token tells whether the secret's
    // version is this store's own (see #createdWithToken).
    const token = randomUUID();
    const create = () =>
      this.#client.send(
        new CreateSecretCommand({
          Name: this.nameOf(id),
          SecretString: serialized,
          Tags: this.#tagsFor(id),
          ...(this.#options.kmsKeyId ? { KmsKeyId: this.#options.kmsKeyId } : {}),
          ClientRequestToken: token,
        }),
      );
    try {
      await retryWithBackoff(
        async () => {
          try {
            await create();
          } catch (error) {
            if (await this.#createdWithToken(error, id, token)) return;
            if (await this.#nameHeldByDeletedSecret(error, id)) throw new NameStillHeld(undefined, { cause: error });
            throw error;
          }
        },
        (error) => error instanceof NameStillHeld,
        {
          attempts: this.#options.recreateAttempts,
          initialDelayMs: 250,
          maxDelayMs: 4_000,
          signal: currentDeadline()?.signal,
        },
      );
    } catch (error) {
      if (error instanceof NameStillHeld) {
        throw new ProviderUnavailableError(id, {
          provider: PROVIDER,
          message: `AWS still holds the name ${this.nameOf(id)} of a deleted secret after ${this.#options.recreateAttempts} attempts; try again later`,
          cause: error.cause,
        });
      }
      throw this.#map(error, id);
    }
  }

  protected override async readValues(id: string): Promise<SecretValues> {
    const described = await this.#describeOwned(id);
    const result = await this.#send(id, () =>
      this.#client.send(new GetSecretValueCommand({ SecretId: described.ARN })),
    );
    if (typeof result.SecretString !== "string") {
      throw new SecretIntegrityError(id, "the secret holds binary data, not omnisecret's JSON", { provider: PROVIDER });
    }
    return parseStoredValues(result.SecretString, id, PROVIDER);
  }

  protected override async updateValues(id: string, _values: SecretValues, serialized: string): Promise<void> {
    const described = await this.#describeOwned(id);
    await this.#send(id, () =>
      this.#client.send(
        new PutSecretValueCommand({
          SecretId: described.ARN,
          SecretString: serialized,
          ClientRequestToken: randomUUID(),
        }),
      ),
    );
  }

  protected override async deleteValues(id: string): Promise<void> {
    const described = await this.#describeOwned(id);
    // The decision: scheduling the deletion of this ARN succeeds for one caller only. Concurrent
    // deletes are told it is already scheduled, and a delete whose secret was replaced meanwhile
    // (deleted and stored again: another ARN) that it no longer exists; both mean not found. A
    // force delete alone answers success in both cases, and would report every racer a success.
    try {
      await this.#client.send(new DeleteSecretCommand({ SecretId: described.ARN, RecoveryWindowInDays: 7 }));
    } catch (error) {
      const name = (error as { name?: string } | null)?.name;
      if (isPendingDeletion(error) || name === "ResourceNotFoundException") {
        throw new SecretNotFoundError(id, { provider: PROVIDER });
      }
      throw this.#map(error, id);
    }
    // Then for good, so the name can be stored again at once.
    await this.#forceDelete(id, described.ARN);
  }

  protected override async *listIds(): AsyncIterable<string> {
    const pages = paginateListSecrets(
      { client: this.#client, pageSize: this.#options.listPageSize },
      {
        Filters: [
          // A prefix match: the slash keeps "app" from matching "app-other/...".
          { Key: "name", Values: [`${this.#prefix}/`] },
          { Key: "tag-key", Values: [OWNER_TAG] },
          { Key: "tag-value", Values: [this.#options.owner] },
        ],
      },
    );
    const namePattern = secretNamePattern(`${this.#prefix}/`);
    try {
      for await (const page of pages) {
        for (const secret of page.SecretList ?? []) {
          const id = namePattern.exec(secret.Name ?? "")?.[1];
          // The filters are prefix matches and may pair one tag's key with another's value, so check exactly.
          if (id && !secret.DeletedDate && this.#isOwned(secret.Tags, id)) yield id;
        }
      }
    } catch (error) {
      throw this.#map(error, undefined);
    }
  }

  close(): void {
    if (this.#ownsClient) this.#client.destroy();
  }

  #tagsFor(id: string): Tag[] {
    return [
      { Key: ID_TAG, Value: id },
      { Key: OWNER_TAG, Value: this.#options.owner },
    ];
  }

  #isOwned(tags: Tag[] | undefined, id: string): boolean {
    const tag = (key: string) => tags?.find((candidate) => candidate.Key === key)?.Value;
    return tag(ID_TAG) === id && tag(OWNER_TAG) === this.#options.owner;
  }

  /** The secret's description, if it exists, is not pending deletion and carries this store's tags. */
  async #describeOwned(id: string): Promise<DescribeSecretCommandOutput & { ARN: string }> {
    const described = await this.#send(id, () =>
      this.#client.send(new DescribeSecretCommand({ SecretId: this.nameOf(id) })),
    );
    if (described.DeletedDate || !described.ARN || !this.#isOwned(described.Tags, id)) {
      throw new SecretNotFoundError(id, { provider: PROVIDER });
    }
    return described as DescribeSecretCommandOutput & { ARN: string };
  }

  /**
   * After a create answered ResourceExistsException: was the secret made by this very store, an
   * earlier attempt whose answer was lost? The token of a CreateSecret becomes the id of the
   * secret's first version, so a live secret of ours that has a version with this token is.
   */
  async #createdWithToken(error: unknown, id: string, token: string): Promise<boolean> {
    if ((error as { name?: string } | null)?.name !== "ResourceExistsException") return false;
    let described: DescribeSecretCommandOutput;
    try {
      described = await this.#client.send(new DescribeSecretCommand({ SecretId: this.nameOf(id) }));
    } catch {
      return false;
    }
    return !described.DeletedDate && this.#isOwned(described.Tags, id) && token in (described.VersionIdsToStages ?? {});
  }

  /**
   * After a failed create: is the name held by a deleted secret, so that a retry can succeed?
   * A secret of ours deleted with a recovery window (outside omnisecret) is force-deleted here;
   * one that is not ours is never touched, and its name stays taken.
   */
  async #nameHeldByDeletedSecret(error: unknown, id: string): Promise<boolean> {
    const name = (error as { name?: string } | null)?.name;
    // AWS: InvalidRequestException "scheduled for deletion"; moto: ResourceExistsException.
    if (!isPendingDeletion(error) && name !== "ResourceExistsException") return false;
    let described: DescribeSecretCommandOutput;
    try {
      described = await this.#client.send(new DescribeSecretCommand({ SecretId: this.nameOf(id) }));
    } catch (describeError) {
      // Gone from DescribeSecret but not yet free for CreateSecret: AWS is finishing a force delete.
      return (describeError as { name?: string }).name === "ResourceNotFoundException" && isPendingDeletion(error);
    }
    if (!described.DeletedDate) return false;
    if (!this.#isOwned(described.Tags, id)) return false;
    await this.#forceDelete(id, described.ARN as string);
    return true;
  }

  async #forceDelete(id: string, arn: string): Promise<void> {
    await this.#send(id, () =>
      this.#client.send(new DeleteSecretCommand({ SecretId: arn, ForceDeleteWithoutRecovery: true })),
    );
  }

  async #send<T>(id: string, request: () => Promise<T>): Promise<T> {
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
