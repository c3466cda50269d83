import https from "node:https";
import type { FaultRequest, RequestLogEntry } from "./faults.js";
import type { KeyVaultRuntimeConfig, KeyVaultServerDescription } from "./server.js";

/** KeyVaultControl over HTTPS, for a server running in another process (main.ts). */
export interface KeyVaultControlClient {
  health(): Promise<boolean>;
  injectFault(fault: FaultRequest): Promise<number>;
  pendingFaults(): Promise<Array<FaultRequest & { id: number }>>;
  clearFaults(): Promise<void>;
  configure(changes: Partial<KeyVaultRuntimeConfig>): Promise<KeyVaultRuntimeConfig>;
  config(): Promise<KeyVaultRuntimeConfig>;
  revokeTokens(): Promise<void>;
  requests(): Promise<RequestLogEntry[]>;
  clearRequests(): Promise<void>;
  reset(): Promise<void>;
}

export function createControlClient(
  description: Pick<KeyVaultServerDescription, "controlUrl">,
  caCertPem: string,
): KeyVaultControlClient {
  const call = (method: string, route: string, body?: unknown): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const request = https.request(
        `${description.controlUrl}${route}`,
        {
          method,
          ca: caCertPem,
          headers: payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {},
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = response.statusCode ?? 0;
            if (status >= 400) {
              reject(new Error(`control ${method} ${route} answered ${status}: ${text}`));
              return;
            }
            resolve(text ? JSON.parse(text) : undefined);
          });
        },
      );
      request.on("error", reject);
      request.end(payload);
    });

  return {
    health: async () => ((await call("GET", "/health")) as { ok: boolean }).ok,
    injectFault: async (fault) => ((await call("POST", "/faults", fault)) as { id: number }).id,
    pendingFaults: async () =>
      ((await call("GET", "/faults")) as { faults: Array<FaultRequest & { id: number }> }).faults,
    clearFaults: async () => void (await call("DELETE", "/faults")),
    configure: async (changes) => (await call("POST", "/config", changes)) as KeyVaultRuntimeConfig,
    config: async () => (await call("GET", "/config")) as KeyVaultRuntimeConfig,
    revokeTokens: async () => void (await call("POST", "/tokens/revoke")),
    requests: async () => ((await call("GET", "/requests")) as { requests: RequestLogEntry[] }).requests,
    clearRequests: async () => void (await call("DELETE", "/requests")),
    reset: async () => void (await call("POST", "/reset")),
  };
}
