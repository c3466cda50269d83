import https from "node:https";
import type { ClientSecretCredentialOptions, TokenCredential } from "@azure/identity";
import { ClientSecretCredential } from "@azure/identity";
import { SecretClient, type SecretClientOptions } from "@azure/keyvault-secrets";
import type { KeyVaultServerDescription } from "./server.js";

export interface TestServerInfo extends KeyVaultServerDescription {
  caCertPem: string;
}

/** What every client of the test server needs: trust in its CA and a challenge from a non-Azure host. */
export function clientOptions(server: TestServerInfo, extra: SecretClientOptions = {}): SecretClientOptions {
  return {
    // The challenge names resource https://vault.azure.net, which 127.0.0.1 is not a subdomain of.
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: server.caCertPem },
    // Short waits keep the fault tests quick; a 429's Retry-After still decides its own wait.
    retryOptions: { retryDelayInMs: 50, maxRetryDelayInMs: 200 },
    ...extra,
  };
}

export function clientSecretCredential(
  server: TestServerInfo,
  secret = server.clientSecret,
  extra: ClientSecretCredentialOptions = {},
): ClientSecretCredential {
  return new ClientSecretCredential(server.tenantId, server.clientId, secret, {
    authorityHost: server.authorityHost,
    // Instance discovery would ask login.microsoftonline.com about this authority.
    disableInstanceDiscovery: true,
    tlsOptions: { ca: server.caCertPem },
    ...extra,
  });
}

export function secretClient(
  server: TestServerInfo,
  credential: TokenCredential = clientSecretCredential(server),
  extra: SecretClientOptions = {},
): SecretClient {
  return new SecretClient(server.vaultUrl, credential, clientOptions(server, extra));
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** One HTTPS request with no SDK in between, for checking the wire format itself. */
export function rawRequest(
  server: Pick<TestServerInfo, "vaultUrl" | "caCertPem">,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; form?: URLSearchParams; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const url = new URL(path, server.vaultUrl);
  const payload =
    options.form !== undefined
      ? options.form.toString()
      : options.body === undefined
        ? undefined
        : JSON.stringify(options.body);
  const contentType = options.form !== undefined ? "application/x-www-form-urlencoded" : "application/json";
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      {
        method,
        ca: server.caCertPem,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(payload ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) } : {}),
          ...options.headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // Not JSON: keep the text.
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
        });
      },
    );
    request.on("error", reject);
    request.end(payload);
  });
}

/** A token straight from the managed-identity endpoint, as App Service would hand one out. */
export async function managedIdentityToken(server: TestServerInfo, resource = server.resource): Promise<string> {
  const url = new URL(server.identityEndpoint);
  url.searchParams.set("api-version", "2019-08-01");
  url.searchParams.set("resource", resource);
  const response = await fetch(url, { headers: { "X-IDENTITY-HEADER": server.identityHeader } });
  if (response.status !== 200) throw new Error(`managed identity endpoint answered ${response.status}`);
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}
