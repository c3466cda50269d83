/**
 * Node's codes for a request that never got an answer: refused, reset, timed out or not
 * resolved. Every adapter treats them as the provider being unavailable (worth a retry), so
 * they are listed once.
 */
const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
]);

export function isNetworkErrorCode(code: unknown): boolean {
  return typeof code === "string" && NETWORK_ERROR_CODES.has(code);
}

/**
 * Node's codes for a certificate chain that does not verify (or does not name the host): a
 * configuration problem, not one that passes with time, so never retried. The adapters with a
 * `caCertFile` option report it as a config error on that field.
 */
const TLS_TRUST_ERROR_CODES: ReadonlySet<string> = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

export function isTlsTrustErrorCode(code: unknown): boolean {
  return typeof code === "string" && TLS_TRUST_ERROR_CODES.has(code);
}
