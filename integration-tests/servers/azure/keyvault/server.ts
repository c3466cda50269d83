/**
 * A Key Vault secrets server for tests: the data-plane REST API (api-version 7.5 to 2026-04-01),
 * Azure's bearer challenge, the token endpoints @azure/identity talks to (App Service managed
 * identity, and Entra's OIDC discovery + client-credentials token endpoint), and a control API that
 * injects faults and reads a request log. HTTPS with a CA generated at start; values in memory only.
 *
 * Listeners:
 * - HTTPS `vaultUrl`: `/secrets...`, `/deletedsecrets...` (bearer token required),
 *   `/{tenant}/v2.0/.well-known/openid-configuration`, `/{tenant}/oauth2/v2.0/token`,
 *   and `/_control/...` (no token; see KeyVaultControl for what each route does).
 * - HTTP `identityEndpoint` (`/msi/token`): the App Service managed-identity endpoint. Plain HTTP
 *   like the real one, which App Service also serves on loopback.
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestCertificates } from "./certificates.js";
import { FaultInjector, type FaultRequest, type FaultSpec, RequestLog, type RequestLogEntry } from "./faults.js";
import { KeyVaultError, readBody, readJson, sendEmpty, sendError, sendJson } from "./http-util.js";
import { KEY_VAULT_RESOURCE, safeEqual, TokenIssuer } from "./tokens.js";
import { MAX_PAGE_SIZE, type Page, VaultState, type VaultTimings, validateName } from "./vault-state.js";

/** Every api-version from 7.5 up to the one @azure/keyvault-secrets 4.12.0 sends. */
export const SUPPORTED_API_VERSIONS = ["7.5", "7.6", "2025-07-01", "2026-04-01"] as const;
/** The only api-version App Service's managed-identity endpoint (and MSAL's client for it) uses. */
export const MANAGED_IDENTITY_API_VERSION = "2019-08-01";

export interface KeyVaultServerOptions {
  /** Port of the HTTPS vault listener on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** Port of the HTTP managed-identity listener on 127.0.0.1; 0 picks a free one. @default 0 */
  identityPort?: number;
  /** Where `ca.pem` is written. @default a fresh temporary directory, removed on close */
  stateDir?: string;
  /** @default a random UUID */
  tenantId?: string;
  /** The application that may use the client-credentials flow. @default a random UUID */
  clientId?: string;
  /** @default a random string */
  clientSecret?: string;
  /** The value `X-IDENTITY-HEADER` must carry (App Service's IDENTITY_HEADER). @default a random UUID */
  identityHeader?: string;
  /** Lifetime of issued tokens. @default 3600 */
  tokenLifetimeSeconds?: number;
  /** Until this long after DELETE the deleted secret is not yet at /deletedsecrets. @default 1000 */
  deleteDelayMs?: number;
  /** Until this long after recover the secret is not yet back at /secrets. @default 1000 */
  recoverDelayMs?: number;
  /** For this long after purge, setting the name answers 409 "being deleted". @default 2000 */
  purgeDelayMs?: number;
  /** A purge-protected vault: purge answers 403 and recoveryLevel is "Recoverable". @default false */
  purgeProtected?: boolean;
}

/** What another process needs to talk to the server; main.ts writes exactly this as JSON. */
export interface KeyVaultServerDescription {
  vaultUrl: string;
  caCertFile: string;
  /** The value for `authorityHost` in @azure/identity credential options. */
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Set as IDENTITY_ENDPOINT for ManagedIdentityCredential (App Service). */
  identityEndpoint: string;
  /** Set as IDENTITY_HEADER. */
  identityHeader: string;
  /** Base URL of the control API, e.g. `${controlUrl}/faults`. */
  controlUrl: string;
  /** The token audience the vault accepts. */
  resource: string;
  apiVersions: string[];
}

export interface KeyVaultRuntimeConfig {
  purgeProtected: boolean;
  tokenLifetimeSeconds: number;
  deleteDelayMs: number;
  recoverDelayMs: number;
  purgeDelayMs: number;
}

/**
 * The control API, in process. Over HTTP (no token; same CA) it is:
 * - `GET  /_control/health` → 200 `{ ok: true }`
 * - `GET|POST /_control/config` → the KeyVaultRuntimeConfig; POST takes a partial one
 * - `POST /_control/faults` FaultRequest → `{ id }`; `GET` lists pending ones; `DELETE` clears them
 * - `GET  /_control/requests` → `{ requests: RequestLogEntry[] }`; `DELETE` clears the log
 * - `POST /_control/tokens/revoke` → 204, every issued token stops working
 * - `POST /_control/reset` → 204, secrets, faults, request log and config back to the start
 */
export interface KeyVaultControl {
  injectFault(fault: FaultRequest): number;
  pendingFaults(): Array<FaultRequest & { id: number }>;
  clearFaults(): void;
  configure(changes: Partial<KeyVaultRuntimeConfig>): KeyVaultRuntimeConfig;
  config(): KeyVaultRuntimeConfig;
  revokeTokens(): void;
  requests(): RequestLogEntry[];
  clearRequests(): void;
  reset(): void;
}

export interface KeyVaultServer extends KeyVaultServerDescription {
  caCertPem: string;
  control: KeyVaultControl;
  describe(): KeyVaultServerDescription;
  close(): Promise<void>;
}

interface Settings {
  purgeProtected: boolean;
  tokenLifetimeSeconds: number;
  timings: VaultTimings;
}

const HOST = "127.0.0.1";

export async function startKeyVaultServer(options: KeyVaultServerOptions = {}): Promise<KeyVaultServer> {
  const tenantId = options.tenantId ?? randomUUID();
  const clientId = options.clientId ?? randomUUID();
  const clientSecret = options.clientSecret ?? `test-secret-${randomUUID()}`;
  const identityHeader = options.identityHeader ?? randomUUID();
  const initial: KeyVaultRuntimeConfig = {
    purgeProtected: options.purgeProtected ?? false,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
    deleteDelayMs: options.deleteDelayMs ?? 1000,
    recoverDelayMs: options.recoverDelayMs ?? 1000,
    purgeDelayMs: options.purgeDelayMs ?? 2000,
  };
  validateConfig(initial);
  const settings: Settings = { purgeProtected: false, tokenLifetimeSeconds: 0, timings: {} as VaultTimings };
  applyConfig(settings, initial);

  const ownsStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), "omnisecret-keyvault-")));
  await mkdir(stateDir, { recursive: true });
  const certificates = await createTestCertificates();
  const caCertFile = join(stateDir, "ca.pem");
  await writeFile(caCertFile, certificates.caCertPem, { mode: 0o644 });

  const faults = new FaultInjector();
  const log = new RequestLog();
  // The port is only known after listen(), and the URL is baked into ids, challenges and token
  // issuers, so everything reads it from this object, filled in once both listeners are up.
  const context = { vaultUrl: "", authority: "" };
  const state = new VaultState(context, settings);
  const tokens = new TokenIssuer(settings, context, tenantId);
  const control = createControl({ state, tokens, faults, log, settings, initial });
  const parts: VaultListenerParts = {
    state,
    tokens,
    faults,
    log,
    control,
    settings,
    tenantId,
    clientId,
    clientSecret,
    context,
  };

  const vaultServer = https.createServer(
    { cert: certificates.leafCertPem, key: certificates.leafKeyPem },
    (request, response) => void handleVaultListener(request, response, parts),
  );
  const identityServer = http.createServer(
    (request, response) =>
      void handleIdentityListener(request, response, { tokens, faults, log, identityHeader, clientId }),
  );

  let vaultPort: number;
  let identityPort: number;
  try {
    vaultPort = await listen(vaultServer, options.port ?? 0);
    identityPort = await listen(identityServer, options.identityPort ?? 0);
  } catch (error) {
    await Promise.all([closeServer(vaultServer), closeServer(identityServer)]);
    if (ownsStateDir) await rm(stateDir, { recursive: true, force: true });
    throw error;
  }
  context.vaultUrl = `https://${HOST}:${vaultPort}`;
  // Entra's endpoints live on the vault's own listener: one CA and one port to trust.
  context.authority = context.vaultUrl;

  const description: KeyVaultServerDescription = {
    vaultUrl: context.vaultUrl,
    caCertFile,
    authorityHost: context.authority,
    tenantId,
    clientId,
    clientSecret,
    identityEndpoint: `http://${HOST}:${identityPort}/msi/token`,
    identityHeader,
    controlUrl: `${context.vaultUrl}/_control`,
    resource: KEY_VAULT_RESOURCE,
    apiVersions: [...SUPPORTED_API_VERSIONS],
  };
  return {
    ...description,
    caCertPem: certificates.caCertPem,
    control,
    describe: () => ({ ...description }),
    async close() {
      await Promise.all([closeServer(vaultServer), closeServer(identityServer)]);
      if (ownsStateDir) await rm(stateDir, { recursive: true, force: true });
    },
  };
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, HOST, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive sockets from SDK clients would otherwise hold close() open until they time out.
    server.closeAllConnections();
  });
}

function validateConfig(config: Partial<KeyVaultRuntimeConfig>): void {
  for (const key of ["deleteDelayMs", "recoverDelayMs", "purgeDelayMs"] as const) {
    const value = config[key];
    if (value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value >= 0)) {
      throw new Error(`${key} must be a non-negative number`);
    }
  }
  const lifetime = config.tokenLifetimeSeconds;
  if (lifetime !== undefined && !(typeof lifetime === "number" && Number.isInteger(lifetime) && lifetime >= 1)) {
    throw new Error("tokenLifetimeSeconds must be a positive integer");
  }
  if (config.purgeProtected !== undefined && typeof config.purgeProtected !== "boolean") {
    throw new Error("purgeProtected must be a boolean");
  }
}

function applyConfig(settings: Settings, changes: Partial<KeyVaultRuntimeConfig>): void {
  if (changes.purgeProtected !== undefined) settings.purgeProtected = changes.purgeProtected;
  if (changes.tokenLifetimeSeconds !== undefined) settings.tokenLifetimeSeconds = changes.tokenLifetimeSeconds;
  if (changes.deleteDelayMs !== undefined) settings.timings.deleteDelayMs = changes.deleteDelayMs;
  if (changes.recoverDelayMs !== undefined) settings.timings.recoverDelayMs = changes.recoverDelayMs;
  if (changes.purgeDelayMs !== undefined) settings.timings.purgeDelayMs = changes.purgeDelayMs;
}

function readConfig(settings: Settings): KeyVaultRuntimeConfig {
  return {
    purgeProtected: settings.purgeProtected,
    tokenLifetimeSeconds: settings.tokenLifetimeSeconds,
    ...settings.timings,
  };
}

function createControl(parts: {
  state: VaultState;
  tokens: TokenIssuer;
  faults: FaultInjector;
  log: RequestLog;
  settings: Settings;
  initial: KeyVaultRuntimeConfig;
}): KeyVaultControl {
  const { state, tokens, faults, log, settings, initial } = parts;
  return {
    injectFault: (fault) => faults.add(fault),
    pendingFaults: () => faults.pending(),
    clearFaults: () => faults.clear(),
    configure(changes) {
      validateConfig(changes);
      applyConfig(settings, changes);
      return readConfig(settings);
    },
    config: () => readConfig(settings),
    revokeTokens: () => tokens.revokeAll(),
    requests: () => log.list(),
    clearRequests: () => log.clear(),
    reset() {
      state.reset();
      faults.clear();
      log.clear();
      applyConfig(settings, initial);
    },
  };
}

interface VaultListenerParts {
  state: VaultState;
  tokens: TokenIssuer;
  faults: FaultInjector;
  log: RequestLog;
  control: KeyVaultControl;
  settings: Settings;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  context: { vaultUrl: string; authority: string };
}

async function handleVaultListener(
  request: IncomingMessage,
  response: ServerResponse,
  parts: VaultListenerParts,
): Promise<void> {
  const method = request.method ?? "GET";
  try {
    if (!parts.context.vaultUrl) throw new KeyVaultError(503, "ServiceUnavailable", "The server is starting.");
    const url = new URL(request.url ?? "/", parts.context.vaultUrl);
    if (url.pathname === "/_control" || url.pathname.startsWith("/_control/")) {
      await handleControl(request, response, url, parts.control);
      return;
    }
    if (!(await applyFault(request, response, method, url, parts, "vault"))) return;
    if (await handleEntra(request, response, url, parts)) return;
    await handleVault(request, response, url, parts);
  } catch (error) {
    respondWithError(request, response, error);
  }
}

async function handleIdentityListener(
  request: IncomingMessage,
  response: ServerResponse,
  parts: Pick<VaultListenerParts, "tokens" | "faults" | "log" | "clientId"> & { identityHeader: string },
): Promise<void> {
  const method = request.method ?? "GET";
  try {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    if (!(await applyFault(request, response, method, url, parts, "identity"))) return;
    await handleManagedIdentity(request, response, url, parts);
  } catch (error) {
    respondWithError(request, response, error);
  }
}

function respondWithError(request: IncomingMessage, response: ServerResponse, error: unknown): void {
  request.resume();
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (error instanceof KeyVaultError) {
    sendError(response, error);
    return;
  }
  // Only the error's class, never its message: a message could quote a request body.
  console.error(`keyvault test server: internal error (${error instanceof Error ? error.name : typeof error})`);
  sendError(response, new KeyVaultError(500, "InternalServerError", "The test server failed unexpectedly."));
}

/** Records the request once answered, and applies a pending fault. Returns false when it answered. */
async function applyFault(
  request: IncomingMessage,
  response: ServerResponse,
  method: string,
  url: URL,
  parts: { faults: FaultInjector; log: RequestLog },
  listener: RequestLogEntry["listener"],
): Promise<boolean> {
  const path = url.pathname;
  const fault = parts.faults.take(method, path);
  const apiVersion = url.searchParams.get("api-version");
  const extra: Partial<RequestLogEntry> = {
    ...(apiVersion !== null ? { apiVersion } : {}),
    ...(url.searchParams.has("$skiptoken") ? { skipToken: true } : {}),
    ...(fault ? { fault: fault.kind } : {}),
  };
  if (fault?.kind === "drop") {
    parts.log.record({ method, path, status: "dropped", listener, ...extra });
    request.socket.destroy();
    return false;
  }
  response.once("finish", () => {
    parts.log.record({ method, path, status: response.statusCode, listener, ...extra });
  });
  if (fault?.kind === "delay") {
    await sleep(fault.delayMs);
    return true;
  }
  if (fault?.kind === "status") {
    request.resume();
    sendError(response, injectedError(fault));
    return false;
  }
  return true;
}

function injectedError(fault: Extract<FaultSpec, { kind: "status" }>): KeyVaultError {
  const headers: Record<string, string> =
    fault.retryAfterSeconds !== undefined ? { "retry-after": String(fault.retryAfterSeconds) } : {};
  switch (fault.status) {
    case 429:
      return new KeyVaultError(
        429,
        "Throttled",
        "Request was not processed because too many requests were received. Reason: injected by the test server.",
        undefined,
        headers,
      );
    case 500:
      return new KeyVaultError(500, "InternalServerError", "Injected internal error.", undefined, headers);
    case 503:
      return new KeyVaultError(503, "ServiceUnavailable", "Injected service unavailable.", undefined, headers);
    default:
      return new KeyVaultError(fault.status, "InjectedFault", "Injected by the test server.", undefined, headers);
  }
}

async function handleControl(
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  control: KeyVaultControl,
): Promise<void> {
  const route = `${request.method} ${url.pathname.replace(/\/+$/, "")}`;
  if (request.method !== "POST") request.resume();
  const body = request.method === "POST" ? await readJson(request) : {};
  try {
    switch (route) {
      case "GET /_control/health":
        return sendJson(response, 200, { ok: true });
      case "GET /_control/config":
        return sendJson(response, 200, control.config());
      case "POST /_control/config":
        return sendJson(response, 200, control.configure(body as Partial<KeyVaultRuntimeConfig>));
      case "GET /_control/faults":
        return sendJson(response, 200, { faults: control.pendingFaults() });
      case "POST /_control/faults":
        return sendJson(response, 200, { id: control.injectFault(body as unknown as FaultRequest) });
      case "DELETE /_control/faults":
        control.clearFaults();
        return sendEmpty(response, 204);
      case "GET /_control/requests":
        return sendJson(response, 200, { requests: control.requests() });
      case "DELETE /_control/requests":
        control.clearRequests();
        return sendEmpty(response, 204);
      case "POST /_control/tokens/revoke":
        control.revokeTokens();
        return sendEmpty(response, 204);
      case "POST /_control/reset":
        control.reset();
        return sendEmpty(response, 204);
      default:
        throw new KeyVaultError(404, "NotFound", `No control route ${route}.`);
    }
  } catch (error) {
    if (error instanceof KeyVaultError) throw error;
    throw new KeyVaultError(400, "BadParameter", error instanceof Error ? error.message : String(error));
  }
}

/** Entra's answers, shaped like login.microsoftonline.com's: `{ error, error_description, error_codes }`. */
function sendOAuthError(
  response: ServerResponse,
  status: number,
  error: string,
  code: number,
  description: string,
): void {
  sendJson(response, status, {
    error,
    error_description: `AADSTS${code}: ${description}`,
    error_codes: [code],
    timestamp: new Date().toISOString(),
    trace_id: randomUUID(),
    correlation_id: randomUUID(),
  });
}

/** Serves OIDC discovery and the token endpoint under `/{tenant}/...`. Returns false for other paths. */
async function handleEntra(
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  parts: VaultListenerParts,
): Promise<boolean> {
  const match = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/token)\/?$/.exec(url.pathname);
  if (!match) return false;
  const [, tenant, endpoint] = match;
  const base = `${parts.context.authority}/${tenant}`;
  if (tenant !== parts.tenantId) {
    request.resume();
    sendOAuthError(response, 400, "invalid_tenant", 90002, `Tenant '${tenant}' not found.`);
    return true;
  }
  if (endpoint?.startsWith("v2.0")) {
    request.resume();
    if (request.method !== "GET") throw new KeyVaultError(405, "MethodNotAllowed", "Use GET.");
    sendJson(response, 200, {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      // MSAL accepts an issuer only on the authority's own scheme, host and port.
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      tenant_region_scope: null,
      cloud_instance_name: "omnisecret.test",
    });
    return true;
  }
  if (request.method !== "POST") {
    request.resume();
    throw new KeyVaultError(405, "MethodNotAllowed", "Use POST.");
  }
  const form = new URLSearchParams((await readBody(request)).toString("utf8"));
  let clientId = form.get("client_id") ?? undefined;
  let clientSecret = form.get("client_secret") ?? undefined;
  const basic = /^Basic (.+)$/i.exec(request.headers.authorization ?? "");
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    clientId ??= decodeURIComponent(decoded.slice(0, colon));
    clientSecret ??= decodeURIComponent(decoded.slice(colon + 1));
  }
  const grantType = form.get("grant_type");
  if (grantType !== "client_credentials") {
    sendOAuthError(response, 400, "unsupported_grant_type", 70003, `The grant type '${grantType}' is not supported.`);
    return true;
  }
  if (clientId !== parts.clientId) {
    sendOAuthError(
      response,
      400,
      "unauthorized_client",
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`,
    );
    return true;
  }
  if (form.has("client_assertion")) {
    sendOAuthError(response, 401, "invalid_client", 700027, "Certificate credentials are not supported here.");
    return true;
  }
  if (clientSecret === undefined || !safeEqual(clientSecret, parts.clientSecret)) {
    // The secret sent is never echoed, in the answer or anywhere else.
    sendOAuthError(
      response,
      401,
      "invalid_client",
      7000215,
      "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
    );
    return true;
  }
  const scopes = (form.get("scope") ?? "").split(" ").filter((scope) => scope.endsWith("/.default"));
  const scope = scopes[0];
  if (scopes.length !== 1 || scope === undefined) {
    sendOAuthError(
      response,
      400,
      "invalid_scope",
      1002012,
      "The client credentials flow needs exactly one scope ending in '/.default'.",
    );
    return true;
  }
  const { token } = parts.tokens.issue(scope, "client-credentials", clientId);
  const lifetime = parts.settings.tokenLifetimeSeconds;
  sendJson(response, 200, {
    token_type: "Bearer",
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: token,
  });
  return true;
}

async function handleManagedIdentity(
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  parts: { tokens: TokenIssuer; identityHeader: string; clientId: string },
): Promise<void> {
  request.resume();
  if (!/^\/msi\/token\/?$/i.test(url.pathname)) {
    return sendJson(response, 404, { statusCode: 404, message: `No route ${url.pathname}.` });
  }
  if (request.method !== "GET") {
    return sendJson(response, 405, { statusCode: 405, message: "Use GET." });
  }
  const header = request.headers["x-identity-header"];
  if (typeof header !== "string" || !safeEqual(header, parts.identityHeader)) {
    return sendJson(response, 401, {
      error: "invalid_request",
      error_description: "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
    });
  }
  const apiVersion = url.searchParams.get("api-version");
  if (apiVersion !== MANAGED_IDENTITY_API_VERSION) {
    return sendJson(response, 400, {
      error: "invalid_request",
      error_description: `api-version must be ${MANAGED_IDENTITY_API_VERSION}, got '${apiVersion ?? ""}'.`,
    });
  }
  const resource = url.searchParams.get("resource");
  if (!resource) {
    return sendJson(response, 400, {
      error: "invalid_request",
      error_description: "The resource parameter is required.",
    });
  }
  const { token, expiresOn } = parts.tokens.issue(resource, "managed-identity", parts.clientId);
  // App Service sends expires_on as a string of Unix seconds; MSAL accepts that (and ISO 8601).
  sendJson(response, 200, {
    access_token: token,
    expires_on: String(expiresOn),
    resource,
    token_type: "Bearer",
    client_id: parts.clientId,
  });
}

async function handleVault(
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  parts: VaultListenerParts,
): Promise<void> {
  const method = request.method ?? "GET";
  authorize(request, parts);
  const apiVersion = url.searchParams.get("api-version");
  if (!apiVersion) {
    throw new KeyVaultError(400, "BadParameter", "The api-version query parameter is required.");
  }
  if (!(SUPPORTED_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    throw new KeyVaultError(
      400,
      "BadParameter",
      `The specified version (${apiVersion}) is not recognized. Supported versions: ${SUPPORTED_API_VERSIONS.join(", ")}.`,
    );
  }
  const segments = url.pathname
    .split("/")
    .slice(1)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        throw new KeyVaultError(400, "BadParameter", "The request URI is not valid.");
      }
    });
  const [collection, name, third, fourth] = segments;
  const state = parts.state;
  const page = (list: (max: number, skip: string | undefined) => Page<unknown>, path: string) => {
    const max = parseMaxResults(url.searchParams.get("maxresults"));
    const result = list(max, url.searchParams.get("$skiptoken") ?? undefined);
    const next = new URL(`${parts.context.vaultUrl}${path}`);
    next.searchParams.set("api-version", apiVersion);
    if (result.skipToken !== undefined) {
      next.searchParams.set("$skiptoken", result.skipToken);
      next.searchParams.set("maxresults", String(max));
    }
    return { value: result.items, nextLink: result.skipToken !== undefined ? next.toString() : null };
  };
  const send = (status: number, body: unknown) => sendJson(response, status, body);

  if (collection === "secrets") {
    if (name === undefined || name === "") {
      if (segments.length > 2) throw routeNotFound(url);
      requireMethod(method, "GET");
      request.resume();
      return send(
        200,
        page((max, skip) => state.list(max, skip), "/secrets"),
      );
    }
    validateName(name);
    if (segments.length === 2) {
      switch (method) {
        case "PUT":
          return send(200, state.set(name, await readJson(request)));
        case "GET":
          request.resume();
          return send(200, state.get(name, undefined));
        case "DELETE":
          request.resume();
          return send(200, state.delete(name));
        case "PATCH":
          return send(200, state.update(name, undefined, await readJson(request)));
        default:
          throw methodNotAllowed(method);
      }
    }
    if (segments.length === 3 && third === "versions") {
      requireMethod(method, "GET");
      request.resume();
      return send(
        200,
        page((max, skip) => state.listVersions(name, max, skip), `/secrets/${encodeURIComponent(name)}/versions`),
      );
    }
    if (segments.length === 3 && third !== undefined) {
      // An empty version ("/secrets/{name}/") means the latest, which is what the SDK sends for getSecret.
      const version = third === "" ? undefined : third;
      if (method === "GET") {
        request.resume();
        return send(200, state.get(name, version));
      }
      if (method === "PATCH") return send(200, state.update(name, version, await readJson(request)));
      throw methodNotAllowed(method);
    }
    throw routeNotFound(url);
  }

  if (collection === "deletedsecrets") {
    if (name === undefined || name === "") {
      if (segments.length > 2) throw routeNotFound(url);
      requireMethod(method, "GET");
      request.resume();
      return send(
        200,
        page((max, skip) => state.listDeleted(max, skip), "/deletedsecrets"),
      );
    }
    validateName(name);
    if (segments.length === 2) {
      request.resume();
      if (method === "GET") return send(200, state.getDeleted(name));
      if (method === "DELETE") {
        state.purge(name);
        return sendEmpty(response, 204);
      }
      throw methodNotAllowed(method);
    }
    if (segments.length === 3 && third === "recover" && fourth === undefined) {
      requireMethod(method, "POST");
      request.resume();
      return send(200, state.recover(name));
    }
  }
  throw routeNotFound(url);
}

function authorize(request: IncomingMessage, parts: VaultListenerParts): void {
  const challenge = {
    "www-authenticate": `Bearer authorization="${parts.context.authority}/${parts.tenantId}", resource="${KEY_VAULT_RESOURCE}"`,
  };
  const header = request.headers.authorization;
  const match = header ? /^Bearer (\S+)$/i.exec(header) : null;
  if (!match?.[1]) {
    request.resume();
    throw new KeyVaultError(
      401,
      "Unauthorized",
      "AKV10000: Request is missing a Bearer or PoP token.",
      undefined,
      challenge,
    );
  }
  const check = parts.tokens.check(match[1], KEY_VAULT_RESOURCE);
  if (!check.ok) {
    request.resume();
    const messages = {
      unknown: "The access token was not issued by this server's token endpoints, or it was revoked.",
      expired: "The access token has expired.",
      audience: `The access token's audience is not ${KEY_VAULT_RESOURCE}.`,
    };
    throw new KeyVaultError(401, "Unauthorized", messages[check.reason], undefined, challenge);
  }
}

function parseMaxResults(raw: string | null): number {
  if (raw === null) return MAX_PAGE_SIZE;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw new KeyVaultError(400, "BadParameter", `maxresults must be an integer from 1 to ${MAX_PAGE_SIZE}.`);
  }
  return value;
}

function requireMethod(method: string, allowed: string): void {
  if (method !== allowed) throw methodNotAllowed(method);
}

function methodNotAllowed(method: string): KeyVaultError {
  return new KeyVaultError(405, "MethodNotAllowed", `The method ${method} is not allowed here.`);
}

function routeNotFound(url: URL): KeyVaultError {
  return new KeyVaultError(404, "NotFound", `No Key Vault operation at ${url.pathname}.`);
}

export type { FaultRequest, FaultSpec, RequestLogEntry };
