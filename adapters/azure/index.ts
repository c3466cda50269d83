/**
 * Azure Key Vault secrets. A secret is named `<prefix>-<owner>-<uuid>`, holds
 * `JSON.stringify(values)` with content type `application/json`, and is tagged `managed-by:
 * omnisecret`, `omnisecret-id: <uuid>` and `omnisecret-owner: <owner>`.
 *
 * Ownership: the name says whose a secret is, so no request is spent on it. Key Vault's GET
 * returns the tags with the value, so every operation that reads anyway (store, get, update, and
 * list) also checks them, for free: a secret at one of our names whose tags do not match is not
 * found (a store of its id gives `E_SECRET_EXISTS`) and is never changed; a get drops its value
 * unread. A delete needs no read, so it checks the tags only with `verifyOwnership: true` (one GET
 * more); by default it deletes whatever secret holds the name.
 *
 * Key Vault has no conditional create: a store is a read, then a set. Two racing stores of one
 * id can both succeed (the later one's values win, whole), so this adapter says `atomicCreate:
 * false`.
 *
 * Requests, after a client's first one (which Key Vault answers with a 401 challenge; the SDK
 * fetches a token and sends it again):
 * - store: GET the secret (404 expected: a PUT alone would write over an existing one), then PUT
 *   a first version: 2. On a name held by a deleted secret (409): GET deletedsecrets/<name> for its
 *   tags, then with `deletePolicy: "purge"` DELETE deletedsecrets/<name> and the PUT again,
 *   retried with backoff while Key Vault still answers 409 (a purge finishes in the background);
 *   with `"soft"` (or purge refused) recover it (GET the secret, POST recover, GET until it is
 *   back), PUT the new values as a new version and PATCH the recovered version disabled.
 * - get: GET the secret (1).
 * - update: GET the secret (a PUT alone would create a missing secret; the GET also gives the
 *   current version), PUT a new version, PATCH the version it replaced disabled (`pruneAction:
 *   "disable"`): 3, or 2 with `"none"`.
 * - delete: DELETE the secret (404: not found), GET deletedsecrets/<name> until the deletion
 *   shows (the SDK looks once at once, then this adapter every 500 ms, for 5 s at most), then
 *   with `"purge"` DELETE deletedsecrets/<name>, since Key Vault refuses a purge before the
 *   deletion shows: 3 at least. A deletion that does not show in time (a racing store purged
 *   it) is left unpurged. With `"soft"` nothing waits: the DELETE and the one look the SDK sends
 *   with it, 2. `verifyOwnership` adds a GET of the secret first.
 * - list: GET /secrets, one request per page of `listPageSize`.
 *
 * Every operation is bounded by `operationTimeoutMs` (each page for list; the polls a delete or a
 * recover waits on, and the waits for a purge to finish, included), each HTTP attempt by
 * `requestTimeoutMs`.
 */
import type { Agent as HttpsAgent } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { debuglog } from "node:util";
import {
  AzureAuthorityHosts,
  ClientSecretCredential,
  DefaultAzureCredential,
  type TokenCredential,
} from "@azure/identity";
import {
  type DeletedSecret,
  type KeyVaultSecret,
  type PollerLike,
  type PollOperationState,
  SecretClient,
  type SecretClientOptions,
} from "@azure/keyvault-secrets";
import {
  type AdapterCapabilities,
  type AdapterContext,
  type Deadline,
  DeadlineBoundAdapter,
  isSecretStoreError,
  MANAGED_BY_VALUE,
  NAME_RELEASE_BACKOFF,
  Ownership,
  ProviderUnavailableError,
  parseStoredValues,
  REQUEST_BACKOFF,
  RequestRunner,
  redactValues,
  SecretAlreadyExistsError,
  SecretIntegrityError,
  SecretNotFoundError,
  type SecretsAdapter,
  type SecretValues,
  trustedCas,
  trustingAgent,
} from "../../src/kit/index.js";
import {
  isSecretDisabled,
  KeyVaultRequestError,
  mapKeyVaultError,
  PROVIDER,
  toKeyVaultRequestError,
} from "./errors.js";
import { type AzureServiceVersion, isLoopbackUrl, type ResolvedAzureOptions } from "./options.js";

export type { AzureOptions } from "./options.js";
export { AZURE_MAX_VALUE_BYTES } from "./options.js";

// NODE_DEBUG=omnisecret-azure: decisions about deleted names; never values.
const debug = debuglog("omnisecret-azure");

export { MANAGED_BY_VALUE };
export const MANAGED_BY_TAG = "managed-by";
export const ID_TAG = "omnisecret-id";
export const OWNER_TAG = "omnisecret-owner";
export const CONTENT_TYPE = "application/json";

/**
 * A secret's name, `<prefix>-<owner>-<uuid>`, and its tags. Key Vault names are case-insensitive,
 * and may come back in another case than written.
 */
const NAMING = {
  separator: "-",
  marks: { managedBy: MANAGED_BY_TAG, owner: OWNER_TAG, id: ID_TAG },
  ignoreCase: true,
} as const;

/** Sets tried while a deleted secret holds the name (409), with NAME_RELEASE_BACKOFF's waits between them. */
const NAME_HELD_ATTEMPTS = 10;
/** How often the delete and recover pollers look whether Key Vault has finished. */
const POLL_INTERVAL_MS = 500;
/**
 * How long a delete waits for the deletion to show before it purges, and a recover for the secret
 * to come back (at most half the operation's time). A racing store can purge the deleted secret
 * first and set the name again: then the deletion never shows, though the DELETE was done. Past
 * this the delete ends without purging; a later store of the id purges a deleted secret of ours
 * itself.
 */
const SETTLE_WAIT_MS = 5_000;

/** Thrown inside the store's retries while Key Vault still holds the name: after a 409, and after freeing it. */
class NameStillHeld extends Error {
  override name = "NameStillHeld";
}

type Lookup =
  | { readonly state: "absent" }
  /** The latest version is disabled: its tags cannot be read, so it is nobody's to change. */
  | { readonly state: "disabled" }
  | { readonly state: "present"; readonly secret: KeyVaultSecret; readonly owned: boolean };

/** What each SDK call is given: the operation's abort signal and the per-attempt timeout. */
interface CallOptions {
  abortSignal: AbortSignal;
  requestOptions: { timeout: number };
}

export class AzureKeyVaultAdapter extends DeadlineBoundAdapter {
  readonly provider = PROVIDER;
  /** `atomicCreate: false`: Key Vault has no conditional create, so racing stores of one id can all succeed. */
  readonly capabilities: AdapterCapabilities;
  readonly #client: SecretClient;
  /** The keep-alive agent this adapter made for `caCertFile`, closed with it. */
  readonly #agent: HttpsAgent | undefined;
  readonly #options: ResolvedAzureOptions;
  readonly #ownership: Ownership;
  /** A store's set, sent again while Key Vault frees the name of a deleted secret; failures as they are. */
  readonly #nameRelease = new RequestRunner({
    attempts: NAME_HELD_ATTEMPTS,
    backoff: NAME_RELEASE_BACKOFF,
    isRetryable: (error) => error instanceof NameStillHeld,
  });

  constructor(options: ResolvedAzureOptions, context: AdapterContext) {
    super(options);
    this.#options = options;
    this.#ownership = new Ownership({ prefix: context.prefix, owner: options.owner, ...NAMING });
    this.capabilities = { maxValueBytes: options.maxValueBytes, atomicCreate: false, list: true };
    // The options type describes an injected client structurally, so it compiles without the SDK.
    const made = options.client ? { client: options.client as SecretClient, agent: undefined } : createClient(options);
    this.#client = made.client;
    this.#agent = made.agent;
  }

  /** The Key Vault name of a secret: the owner in it keeps installations apart without a read. */
  nameOf(id: string): string {
    return this.#ownership.nameOf(id);
  }

  protected override async storeValues(
    id: string,
    values: SecretValues,
    serialized: string,
    deadline: Deadline,
  ): Promise<void> {
    const found = await this.#lookup(deadline, id, values);
    if (found.state !== "absent") throw new SecretAlreadyExistsError(id, { provider: PROVIDER });
    let recoveredVersion: string | undefined;
    try {
      await this.#nameRelease.run(deadline, async () => {
        try {
          await this.#setSecret(deadline, id, values, serialized);
        } catch (error) {
          if (!(error instanceof KeyVaultRequestError && error.statusCode === 409)) throw error;
          const deleted = await this.#deletedSecret(deadline, id);
          // None: purged, but Key Vault finishes a purge in the background and answers 409 meanwhile.
          if (deleted === undefined) throw new NameStillHeld(undefined, { cause: error });
          if (!this.#ownership.isOwned(deleted.properties.tags, id)) {
            throw new SecretAlreadyExistsError(id, { provider: PROVIDER, cause: error });
          }
          if (this.#options.deletePolicy === "purge" && isPurgeable(deleted) && (await this.#purge(deadline, id))) {
            debug("purged deleted secret %s before storing it again", this.nameOf(id));
          } else {
            await this.#recover(deadline, id);
            recoveredVersion = deleted.properties.version;
            debug("recovered deleted secret %s to store it again", this.nameOf(id));
          }
          throw new NameStillHeld(undefined, { cause: error });
        }
      });
    } catch (error) {
      if (error instanceof NameStillHeld) {
        throw new ProviderUnavailableError(id, {
          provider: PROVIDER,
          message: `Key Vault still holds the name ${this.nameOf(id)} of a deleted secret after ${NAME_HELD_ATTEMPTS} attempts; try again later`,
          cause: error.cause,
        });
      }
      throw this.#map(error, id, "store");
    }
    // The recovered version holds the values of the secret deleted before: not readable any more.
    if (recoveredVersion !== undefined && this.#options.pruneAction === "disable") {
      await this.#disableVersion(deadline, id, recoveredVersion);
    }
  }

  protected override async readValues(id: string, deadline: Deadline): Promise<SecretValues> {
    const secret = await this.#owned(deadline, id);
    if (typeof secret.value !== "string") {
      throw new SecretIntegrityError(id, "the secret has no value", { provider: PROVIDER });
    }
    return parseStoredValues(secret.value, id, PROVIDER);
  }

  protected override async updateValues(
    id: string,
    values: SecretValues,
    serialized: string,
    deadline: Deadline,
  ): Promise<void> {
    const current = await this.#owned(deadline, id);
    try {
      await this.#setSecret(deadline, id, values, serialized);
    } catch (error) {
      // 409: deleted since the read; an update never brings it back.
      throw this.#map(error, id);
    }
    const previous = current.properties.version;
    if (previous && this.#options.pruneAction === "disable") await this.#disableVersion(deadline, id, previous);
  }

  protected override async deleteValues(id: string, deadline: Deadline): Promise<void> {
    // DELETE answers 404 for a missing secret by itself: the read is for the tags only.
    if (this.#options.verifyOwnership) await this.#owned(deadline, id);
    let deleted: DeletedSecret;
    try {
      const callOptions = this.#callOptions(deadline);
      const poller = await this.#client.beginDeleteSecret(this.nameOf(id), callOptions);
      // Only a purge has to wait for the deletion to show (Key Vault refuses it before).
      if (this.#options.deletePolicy !== "purge") return;
      if (!(await untilDone(poller, callOptions.abortSignal, this.#settleWaitMs()))) {
        debug("deletion of %s did not show in time; left for a later store to purge", this.nameOf(id));
        return;
      }
      deleted = poller.getResult() as DeletedSecret;
    } catch (error) {
      const failure = toKeyVaultRequestError(error);
      // Reported as get reports a missing secret: no cause, nothing in it to explain.
      if (failure.statusCode === 404) throw new SecretNotFoundError(id, { provider: PROVIDER });
      // 409: another delete of it is under way; as after it, the secret is not found.
      throw this.#map(failure, id);
    }
    // No recovery id: the vault has no soft delete, and the secret is gone already.
    if (!deleted.properties.recoveryId) return;
    if (!isPurgeable(deleted)) {
      debug("vault does not let %s be purged (purge protection); left soft-deleted", this.nameOf(id));
      return;
    }
    await this.#purge(deadline, id);
  }

  // Each page has its own deadline through the facade's race; the SDK's pager takes no per-page
  // signal, so a page request is bounded by requestTimeoutMs and the SDK's retries.
  protected override async *listIds(_stepDeadline: () => Deadline): AsyncIterable<string> {
    const pages = this.#client
      .listPropertiesOfSecrets({ requestOptions: { timeout: this.#options.requestTimeoutMs } })
      .byPage({ maxPageSize: this.#options.listPageSize });
    try {
      for await (const page of pages) {
        for (const properties of page) {
          const id = this.#ownership.idOfName(properties.name);
          if (id && properties.enabled !== false && this.#ownership.isOwned(properties.tags, id)) yield id;
        }
      }
    } catch (error) {
      throw this.#map(toKeyVaultRequestError(error), undefined);
    }
  }

  close(): void {
    // Its idle keep-alive sockets; the SDK's own agent (no caCertFile) has no way to be closed.
    this.#agent?.destroy();
  }

  /** A PUT of a new version, with the content type and this owner's tags. */
  #setSecret(deadline: Deadline, id: string, values: SecretValues, serialized: string): Promise<KeyVaultSecret> {
    return this.#call(deadline, values, (callOptions) =>
      this.#client.setSecret(this.nameOf(id), serialized, {
        contentType: CONTENT_TYPE,
        tags: this.#ownership.marksFor(id),
        ...callOptions,
      }),
    );
  }

  /** One GET of the latest version, with its tags and value. */
  async #lookup(deadline: Deadline, id: string, values?: SecretValues): Promise<Lookup> {
    let secret: KeyVaultSecret;
    try {
      secret = await this.#call(deadline, values, (callOptions) =>
        this.#client.getSecret(this.nameOf(id), callOptions),
      );
    } catch (error) {
      if (error instanceof KeyVaultRequestError) {
        // Lowkey Vault answers 404 for a disabled version too: there it looks absent.
        if (error.statusCode === 404) return { state: "absent" };
        if (isSecretDisabled(error)) return { state: "disabled" };
      }
      throw this.#map(error, id);
    }
    if (secret.properties.enabled === false) return { state: "disabled" };
    return { state: "present", secret, owned: this.#ownership.isOwned(secret.properties.tags, id) };
  }

  /** The secret, if it exists, is enabled and carries this store's tags; otherwise it is not found. */
  async #owned(deadline: Deadline, id: string): Promise<KeyVaultSecret> {
    const found = await this.#lookup(deadline, id);
    if (found.state !== "present" || !found.owned) throw new SecretNotFoundError(id, { provider: PROVIDER });
    return found.secret;
  }

  /** The deleted secret holding the name, or undefined when there is none (or it is being purged). */
  async #deletedSecret(deadline: Deadline, id: string): Promise<DeletedSecret | undefined> {
    try {
      return await this.#call(deadline, undefined, (callOptions) =>
        this.#client.getDeletedSecret(this.nameOf(id), callOptions),
      );
    } catch (error) {
      if (error instanceof KeyVaultRequestError && error.statusCode === 404) return undefined;
      throw this.#map(error, id, "store");
    }
  }

  /** Purges a deleted secret; false when the vault refuses (purge protection, or no purge permission). */
  async #purge(deadline: Deadline, id: string): Promise<boolean> {
    try {
      await this.#call(deadline, undefined, (callOptions) =>
        this.#client.purgeDeletedSecret(this.nameOf(id), callOptions),
      );
      return true;
    } catch (error) {
      if (error instanceof KeyVaultRequestError && error.statusCode === 403) {
        debug("purge of %s refused (403); it stays soft-deleted", this.nameOf(id));
        return false;
      }
      // Already purged (by a racing store, or the vault purged it itself).
      if (error instanceof KeyVaultRequestError && error.statusCode === 404) return true;
      throw this.#map(error, id);
    }
  }

  async #recover(deadline: Deadline, id: string): Promise<void> {
    try {
      const callOptions = this.#callOptions(deadline);
      const poller = await this.#client.beginRecoverDeletedSecret(this.nameOf(id), callOptions);
      // Not back in time (a racing store purged it, say): the set that follows finds out.
      await untilDone(poller, callOptions.abortSignal, this.#settleWaitMs());
    } catch (error) {
      const failure = toKeyVaultRequestError(error);
      // 409: a racing store is recovering it already; the next set finds out.
      if (failure.statusCode === 409 || failure.statusCode === 404) return;
      throw this.#map(failure, id, "store");
    }
  }

  async #disableVersion(deadline: Deadline, id: string, version: string): Promise<void> {
    try {
      await this.#call(deadline, undefined, (callOptions) =>
        this.#client.updateSecretProperties(this.nameOf(id), version, { enabled: false, ...callOptions }),
      );
    } catch (error) {
      // The version is gone already: nothing is left readable.
      if (error instanceof KeyVaultRequestError && error.statusCode === 404) return;
      throw this.#map(error, id);
    }
  }

  #settleWaitMs(): number {
    return Math.min(SETTLE_WAIT_MS, this.#options.operationTimeoutMs / 2);
  }

  /**
   * The options of one SDK call: the operation's deadline as its abort signal (so retries, polls
   * and waits stop there) and `requestTimeoutMs` (cut to the time left) for each HTTP attempt.
   */
  #callOptions(deadline: Deadline): CallOptions {
    return {
      abortSignal: deadline.signal,
      requestOptions: { timeout: deadline.requestTimeoutMs(this.#options.requestTimeoutMs) },
    };
  }

  /** One SDK call, its retries included, within the operation's deadline; failures come out rebuilt, as `KeyVaultRequestError`. */
  async #call<T>(
    deadline: Deadline,
    values: SecretValues | undefined,
    run: (callOptions: CallOptions) => Promise<T>,
  ): Promise<T> {
    try {
      return await run(this.#callOptions(deadline));
    } catch (error) {
      throw toKeyVaultRequestError(error, (text) => redactValues(text, values));
    }
  }

  #map(error: unknown, id: string | undefined, operation?: "store"): unknown {
    if (isSecretStoreError(error)) return error;
    const failure = toKeyVaultRequestError(error);
    return mapKeyVaultError(failure, id, operation) ?? failure;
  }
}

/**
 * Waits until a Key Vault poller is done, or for `waitMs` at most: false then. `begin*` has
 * already sent the operation and looked once whether it finished; the SDK's `pollUntilDone` would
 * look again at once, before its first wait, a request that cannot learn more than the one just
 * made. This waits first.
 */
async function untilDone<T>(
  poller: PollerLike<PollOperationState<T>, T>,
  abortSignal: AbortSignal,
  waitMs: number,
): Promise<boolean> {
  const giveUpAt = Date.now() + waitMs;
  while (!poller.isDone()) {
    if (Date.now() + POLL_INTERVAL_MS > giveUpAt) return false;
    await sleep(POLL_INTERVAL_MS, undefined, { signal: abortSignal });
    await poller.poll({ abortSignal });
  }
  return true;
}

/** Whether Key Vault lets a deleted secret be purged: its recovery level says so (absent: try). */
function isPurgeable(deleted: DeletedSecret): boolean {
  const level = deleted.properties.recoveryLevel;
  return level === undefined || level.includes("Purgeable");
}

const AZURE_AUTHORITY_HOSTS = new Set<string>(
  Object.values(AzureAuthorityHosts).map((host) => new URL(host).host.toLowerCase()),
);

function createCredential(
  options: ResolvedAzureOptions,
  ca: string[] | undefined,
  agent: HttpsAgent | undefined,
): TokenCredential {
  const credential = options.credential;
  if (credential && typeof (credential as TokenCredential).getToken === "function") {
    return credential as TokenCredential;
  }
  if (credential && "clientSecret" in credential) {
    const authorityHost = credential.authorityHost;
    return new ClientSecretCredential(credential.tenantId, credential.clientId, credential.clientSecret, {
      // The authority is always https (the schema and the SDK require it): the vault's agent fits.
      ...(agent ? { agent } : ca ? { tlsOptions: { ca } } : {}),
      ...(authorityHost
        ? {
            authorityHost,
            // Instance discovery asks Microsoft about the authority: only Azure's own hosts are known there.
            disableInstanceDiscovery: !AZURE_AUTHORITY_HOSTS.has(new URL(authorityHost).host.toLowerCase()),
          }
        : {}),
    });
  }
  // Managed identity may ask IMDS over plain http, which an https agent cannot carry.
  return new DefaultAzureCredential(ca ? { tlsOptions: { ca } } : {});
}

/**
 * The keep-alive agent of a client that trusts `ca`. Not `tlsOptions: { ca }`: the SDK hands
 * that to an `https.Agent` as `ca`, and Node's agent writes its `ca` into the key it looks its
 * sockets up by (`Agent.getName`), when a request takes a socket and when it gives it back: with
 * the system's CAs and a `NODE_EXTRA_CA_CERTS` bundle, a join of some 400 KB each time, one to
 * three milliseconds of CPU per request. A secure context made once, here, is not part of that
 * key, and no new connection parses the PEMs into one of its own either. Trust and verification
 * are the same: the context holds exactly those CAs, and the agent checks certificate and host.
 */

/** The SecretClient of a config, and the agent it was given (the adapter's to close), if any. */
/**
 * `serviceVersion`'s picklist is the SDK's own union: this fails to compile when an SDK upgrade
 * adds or drops a version, so the list in options.ts is brought along.
 */
type SdkServiceVersion = NonNullable<SecretClientOptions["serviceVersion"]>;
const sameServiceVersions: [AzureServiceVersion, SdkServiceVersion] extends [SdkServiceVersion, AzureServiceVersion]
  ? true
  : false = true;
void sameServiceVersions;

function createClient(options: ResolvedAzureOptions): { client: SecretClient; agent: HttpsAgent | undefined } {
  const ca = options.caCertFile ? trustedCas(options.caCertFile, PROVIDER) : undefined;
  const agent = ca ? trustingAgent(ca) : undefined;
  const url = new URL(options.vaultUrl);
  // The options schema accepts http only for a loopback host.
  const insecure = url.protocol === "http:" && isLoopbackUrl(url);
  const client = new SecretClient(options.vaultUrl, createCredential(options, ca, agent), {
    disableChallengeResourceVerification: options.disableChallengeResourceVerification,
    // Absent: the SDK's own default, its LATEST_API_VERSION.
    ...(options.serviceVersion ? { serviceVersion: options.serviceVersion } : {}),
    // The kit's waits. The SDK draws each from the upper half of min(retryDelayInMs * 2^n,
    // maxRetryDelayInMs), n = 0 for the first retry, so twice the initial delay gives the same
    // ranges; once capped, a wait is drawn between half maxDelayMs and maxDelayMs.
    retryOptions: {
      maxRetries: options.maxAttempts - 1,
      retryDelayInMs: 2 * REQUEST_BACKOFF.initialDelayMs,
      maxRetryDelayInMs: REQUEST_BACKOFF.maxDelayMs,
    },
    ...(insecure ? { allowInsecureConnection: true } : {}),
    // Every request of this client goes to the vault; an https agent cannot carry plain http.
    ...(agent && !insecure ? { agent } : {}),
    userAgentOptions: { userAgentPrefix: "omnisecret" },
  });
  return { client, agent };
}

export function createAzureAdapter(options: ResolvedAzureOptions, context: AdapterContext): SecretsAdapter {
  return new AzureKeyVaultAdapter(options, context);
}
