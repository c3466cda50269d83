/**
 * TLS trust for an adapter's `caCertFile` (vault, azure): one definition, so every adapter trusts
 * the same CAs. A client given its own `ca` list stops using Node's, so the list is rebuilt whole:
 * the system's CAs, the NODE_EXTRA_CA_CERTS bundle (which Node adds to its own at startup, and which
 * a client with `ca` would otherwise drop), then the file. Certificates and host names stay
 * verified; the file only adds a CA.
 *
 * In src/kit/, not beside the core modules: the build bundles src/'s top-level modules into the
 * core every import loads, and only the adapters that take `caCertFile` need node:https and node:tls.
 */
import { readFileSync } from "node:fs";
import { Agent as HttpsAgent } from "node:https";
import { createSecureContext, rootCertificates } from "node:tls";
import { ConfigError } from "../errors.js";

/** The CAs a client with `caCertFile` trusts: the system's, NODE_EXTRA_CA_CERTS's, and the file's. */
export function trustedCas(caCertFile: string, provider: string): string[] {
  let file: string;
  try {
    file = readFileSync(caCertFile, "utf8");
  } catch (error) {
    throw new ConfigError(`the CA certificate file ${caCertFile} could not be read`, {
      provider,
      field: "caCertFile",
      cause: error,
    });
  }
  const cas = [...rootCertificates];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      cas.push(readFileSync(extra, "utf8"));
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS.
    }
  }
  cas.push(file);
  return cas;
}

/**
 * A keep-alive agent built on one secure context of `cas`: the adapter's to close. One context
 * rather than `ca` in each request's options, since Node's agent joins a `ca` list (hundreds of
 * kilobytes with the system's CAs) into the key it computes for every request.
 */
export function trustingAgent(cas: readonly string[]): HttpsAgent {
  return new HttpsAgent({ keepAlive: true, secureContext: createSecureContext({ ca: [...cas] }) });
}
