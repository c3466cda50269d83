/**
 * Version tokens: opaque to callers, built by an adapter from its secret's incarnation (when the
 * secret was created, so a token of a deleted secret never reads a new one stored under the same
 * id) and the provider's own version id or number: `<incarnation>.<native>`. Each part holds only
 * letters, digits, `-` and `_`, so a token can travel in a URL, a shell or a file name unquoted.
 */

/** The longest token any adapter makes (a Key Vault version id is 32 hex digits; AWS's a UUID). */
export const MAX_VERSION_TOKEN_LENGTH = 128;

const PART = /^[A-Za-z0-9_-]+$/;

/** The incarnation part of a token: a creation time in milliseconds, in base 36. */
export function incarnationOf(createdAt: Date | number): string {
  const ms = typeof createdAt === "number" ? createdAt : createdAt.getTime();
  return Math.trunc(ms).toString(36);
}

/** A token from its two parts. */
export function versionToken(incarnation: string, native: string | number): string {
  const token = `${incarnation}.${native}`;
  if (!PART.test(incarnation) || !PART.test(String(native)) || token.length > MAX_VERSION_TOKEN_LENGTH) {
    // A provider answered something no token can carry; a bug to hear about, not a user's error.
    throw new Error(`cannot make a version token of "${incarnation}" and "${String(native)}"`);
  }
  return token;
}

/**
 * The two parts of `token`, or undefined when it is not a token whose native part matches
 * `nativePattern` (the provider's own shape: a number, a UUID, 32 hex digits).
 */
export function parseVersionToken(
  token: string,
  nativePattern: RegExp,
): { readonly incarnation: string; readonly native: string } | undefined {
  if (token.length === 0 || token.length > MAX_VERSION_TOKEN_LENGTH) return undefined;
  const dot = token.indexOf(".");
  if (dot <= 0) return undefined;
  const incarnation = token.slice(0, dot);
  const native = token.slice(dot + 1);
  if (!PART.test(incarnation) || !PART.test(native) || !nativePattern.test(native)) return undefined;
  return { incarnation, native };
}
