/**
 * AppRole sign-in for the Vault adapter: logs in before the first request, again a little before
 * the token's lease ends (10% of it, at most 30 s), and again at once when Vault answers 403 (the
 * token was revoked, or expired early). Concurrent requests that need a token wait for the same
 * login. The token goes into the node-vault client the adapter sends its requests with.
 */
import type nodeVault from "node-vault";
import { PermissionDeniedError, RequestRunner } from "../../src/kit/index.js";
import { asVaultRequest, isRetryable, mapVaultError, PROVIDER, VaultRequestError } from "./errors.js";
import type { ResolvedVaultOptions } from "./options.js";

type AppRole = NonNullable<ResolvedVaultOptions["appRole"]>;

export class AppRoleSession {
  readonly #client: nodeVault.client;
  readonly #appRole: AppRole;
  readonly #requests: RequestRunner;
  #login: Promise<void> | undefined;
  /** When the token expires (ms since the epoch); renewed a little before. */
  #tokenExpiresAt = 0;

  constructor(client: nodeVault.client, appRole: AppRole, maxAttempts: number) {
    this.#client = client;
    this.#appRole = appRole;
    this.#requests = new RequestRunner({
      attempts: maxAttempts,
      isRetryable,
      mapError: (error) => {
        // Vault answers wrong AppRole credentials with 400 "invalid role or secret ID".
        if (error instanceof VaultRequestError && error.statusCode === 400) {
          return new PermissionDeniedError(undefined, {
            provider: PROVIDER,
            message: `Vault refused the AppRole login at auth/${appRole.mount}`,
            cause: error,
          });
        }
        return (error instanceof VaultRequestError && mapVaultError(error, undefined)) || error;
      },
    });
  }

  /** Logs in unless the token in hand is still good. */
  async ensureToken(): Promise<void> {
    if (this.#tokenExpiresAt > Date.now()) return;
    await this.logIn(false);
  }

  /** One login at a time; `force` starts a new one even while one is under way (after a 403). */
  logIn(force: boolean): Promise<void> {
    if (this.#login && !force) return this.#login;
    const login = this.#send();
    this.#login = login;
    login.catch(() => {
      if (this.#login === login) this.#login = undefined;
    });
    return login;
  }

  async #send(): Promise<void> {
    const appRole = this.#appRole;
    // Not bound to one operation's deadline: every request waiting for a token shares this login.
    const login = () =>
      this.#client.write(`auth/${appRole.mount}/login`, { role_id: appRole.roleId, secret_id: appRole.secretId });
    const body: { auth?: { client_token?: string; lease_duration?: number } } = await this.#requests.send(
      undefined,
      undefined,
      asVaultRequest(login),
    );
    const token = body?.auth?.client_token;
    if (!token)
      throw new PermissionDeniedError(undefined, {
        provider: PROVIDER,
        message: "Vault's AppRole login returned no token",
      });
    this.#client.token = token;
    // Log in again a little before the lease ends (10%, at most 30 s), rather than on a 403.
    const leaseMs = (body.auth?.lease_duration ?? 0) * 1_000;
    this.#tokenExpiresAt =
      leaseMs > 0 ? Date.now() + leaseMs - Math.min(leaseMs * 0.1, 30_000) : Number.POSITIVE_INFINITY;
  }
}
