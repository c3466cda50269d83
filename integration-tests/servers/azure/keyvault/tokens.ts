import { randomBytes, timingSafeEqual } from "node:crypto";

/** The audience Key Vault tokens are issued for, with or without a trailing slash or `/.default`. */
export const KEY_VAULT_RESOURCE = "https://vault.azure.net";

export type TokenSource = "managed-identity" | "client-credentials";

interface IssuedToken {
  resource: string;
  expiresAt: number;
  source: TokenSource;
}

export type TokenCheck = { ok: true; source: TokenSource } | { ok: false; reason: "unknown" | "expired" | "audience" };

/** Normalises "https://vault.azure.net/.default", "https://vault.azure.net/" and the bare form to one. */
export function normaliseResource(resourceOrScope: string): string {
  return resourceOrScope.replace(/\/\.default$/, "").replace(/\/+$/, "");
}

/**
 * Issues opaque tokens and remembers them: the vault accepts only what these endpoints issued, so a
 * test can prove a forged, expired or revoked token is refused. Tokens are shaped like JWTs because
 * some clients peek at the claims; the signature is random and never checked.
 */
export class TokenIssuer {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(
    private readonly config: { tokenLifetimeSeconds: number },
    /** Read on each issue: the authority is only known once the listener has its port. */
    private readonly endpoint: { readonly authority: string },
    private readonly tenantId: string,
  ) {}

  issue(resourceOrScope: string, source: TokenSource, appId: string): { token: string; expiresOn: number } {
    const resource = normaliseResource(resourceOrScope);
    const now = Math.floor(Date.now() / 1000);
    const expiresOn = now + this.config.tokenLifetimeSeconds;
    const header = { alg: "RS256", typ: "JWT" };
    const claims = {
      aud: resource,
      iss: `${this.endpoint.authority}/${this.tenantId}/v2.0`,
      iat: now,
      nbf: now,
      exp: expiresOn,
      tid: this.tenantId,
      appid: appId,
      // Keeps two tokens issued in the same second apart.
      jti: randomBytes(12).toString("base64url"),
    };
    const token = [header, claims]
      .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
      .concat(randomBytes(32).toString("base64url"))
      .join(".");
    this.tokens.set(token, { resource, expiresAt: expiresOn * 1000, source });
    return { token, expiresOn };
  }

  check(token: string, resource: string): TokenCheck {
    const issued = this.tokens.get(token);
    if (!issued) return { ok: false, reason: "unknown" };
    if (Date.now() >= issued.expiresAt) return { ok: false, reason: "expired" };
    if (issued.resource !== normaliseResource(resource)) return { ok: false, reason: "audience" };
    return { ok: true, source: issued.source };
  }

  /** Forgets every token, so clients holding one get 401 and must fetch a new one. */
  revokeAll(): void {
    this.tokens.clear();
  }
}

/** Compares two secrets without leaking, through timing, how much of the guess was right. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
