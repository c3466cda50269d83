/**
 * Configuration: one plain-JSON object keyed on `provider`, from code, a JSON file or the
 * environment. Every source ends in the same validation, so a broken config fails the same
 * way wherever it came from: a `ConfigError` naming the provider and the field.
 */
import { readFileSync } from "node:fs";
import * as v from "valibot";
import type { CircuitBreakerOptions } from "./circuit-breaker.js";
import { cacheSchema, DEFAULT_OWNER } from "./config-schema.js";
import type { EnvField } from "./env-fields.js";
import { ConfigError } from "./errors.js";
import { providers } from "./providers.js";
import type { ResolvedCacheOptions } from "./read-cache.js";
import {
  findProviderDefinition,
  getProviderDefinition,
  loadOptionsSchema,
  type ProviderDefinition,
} from "./registry.js";

export type { OmnisecretConfig, ProviderOptions } from "./providers.js";

/** Fields every provider accepts; they survive a provider override of a config file. */
const COMMON_FIELDS = ["prefix", "cache", "circuitBreaker", "telemetry", "backup"] as const;

/** The variables of the read cache, the circuit breaker and telemetry, the same for every provider: the field and its type. */
const CACHE_ENV_FIELDS: readonly EnvField[] = [
  { field: "cache.ttlMs", names: ["OMNISECRET_CACHE_TTL_MS"], type: "integer" },
  { field: "cache.maxEntries", names: ["OMNISECRET_CACHE_MAX_ENTRIES"], type: "integer" },
  { field: "cache.cacheNotFound", names: ["OMNISECRET_CACHE_NOT_FOUND"], type: "boolean" },
  { field: "cache.staleIfErrorMs", names: ["OMNISECRET_CACHE_STALE_IF_ERROR_MS"], type: "integer" },
  // Not the cache's, but the same for every provider too.
  {
    field: "circuitBreaker.failureThreshold",
    names: ["OMNISECRET_CIRCUIT_BREAKER_FAILURE_THRESHOLD"],
    type: "integer",
  },
  { field: "circuitBreaker.openMs", names: ["OMNISECRET_CIRCUIT_BREAKER_OPEN_MS"], type: "integer" },
  { field: "telemetry.enabled", names: ["OMNISECRET_TELEMETRY_ENABLED"], type: "boolean" },
  { field: "telemetry.includeSecretIds", names: ["OMNISECRET_TELEMETRY_INCLUDE_SECRET_IDS"], type: "boolean" },
];

export const DEFAULT_PROVIDER = "local";

export interface ResolvedConfig {
  readonly provider: string;
  readonly prefix: string;
  /** The read cache, when it is on. */
  readonly cache?: ResolvedCacheOptions | undefined;
  /** The circuit breaker, when it is on. */
  readonly circuitBreaker?: CircuitBreakerOptions | undefined;
  /** OpenTelemetry: on (when the api is installed) unless `enabled: false`. */
  readonly telemetry?: { readonly enabled: boolean; readonly includeSecretIds: boolean } | undefined;
  readonly [field: string]: unknown;
}

/** Validates a config object against its provider's schema (loaded for that provider only) and fills in defaults. */
export async function resolveConfig(
  input: unknown,
): Promise<{ definition: ProviderDefinition; config: ResolvedConfig }> {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new ConfigError("configuration must be an object with a `provider` field");
  }
  const withProvider = { provider: DEFAULT_PROVIDER, ...(input as Record<string, unknown>) };
  const definition = getProviderDefinition(withProvider.provider);
  const schema = await loadOptionsSchema(definition);
  const result = v.safeParse(schema, withProvider, PARSE_CONFIG);
  if (!result.success) throw configErrorFromIssues(definition.name, configIssues(schema, result.issues));
  return { definition, config: result.output };
}

/** A config and the one of its `backup` store, validated; the backup is absent when none is configured. */
export interface ResolvedStoreConfigs {
  readonly primary: { definition: ProviderDefinition; config: ResolvedConfig };
  readonly backup?:
    | {
        definition: ProviderDefinition;
        config: ResolvedConfig;
        /** The backup's config as given, with the namespace it inherits filled in: what opens it as a store of its own. */
        input: Record<string, unknown>;
      }
    | undefined;
}

/**
 * Validates a config that may carry `backup: <another provider's config>`: both against their
 * providers' schemas (a backup's `ConfigError` names `backup.<field>`). A backup may not have a
 * backup or a cache of its own (the read cache sits in front of both), and may not point at the
 * primary's location (same provider and same place, whatever the prefix): it would fail together
 * with the primary.
 *
 * The backup's `circuitBreaker` is the primary's unless it sets its own: a breaker of its own,
 * with the same settings.
 *
 * The backup keeps the primary's namespace: its `prefix` and `owner` are the primary's unless its
 * own config sets them, so two applications with their own prefixes that share one backup config
 * never write one namespace there. A primary whose owner a backup provider cannot keep (it has no
 * owner in its names) must give the backup a prefix of its own, or say it means to share.
 */
export async function resolveConfigWithBackup(input: unknown): Promise<ResolvedStoreConfigs> {
  const { primary: rawPrimary, backup: rawBackup } = splitBackupConfig(input);
  const primary = await resolveConfig(rawPrimary);
  if (rawBackup === undefined) return { primary };
  if (rawBackup === null || typeof rawBackup !== "object" || Array.isArray(rawBackup)) {
    throw new ConfigError('field "backup" must be another provider\'s config, an object', {
      provider: primary.definition.name,
      field: "backup",
    });
  }
  for (const field of ["backup", "cache", "telemetry"] as const) {
    if (field in rawBackup) {
      throw new ConfigError(
        field === "backup"
          ? 'field "backup.backup": a backup store has no backup of its own'
          : `field "backup.${field}": ${field === "cache" ? "the read cache" : "telemetry"} is configured on the primary; it covers the backup too`,
        { provider: primary.definition.name, field: `backup.${field}` },
      );
    }
  }
  const backupInput = await inheritNamespace(primary, rawBackup as Record<string, unknown>);
  // Each side has a breaker of its own (so an open primary still fails over), set like the primary's unless given.
  if (backupInput.circuitBreaker === undefined && primary.config.circuitBreaker !== undefined) {
    backupInput.circuitBreaker = { ...primary.config.circuitBreaker };
  }
  let backup: { definition: ProviderDefinition; config: ResolvedConfig };
  try {
    backup = await resolveConfig(backupInput);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(`backup: ${error.message}`, {
      provider: error.provider,
      field: error.field === undefined ? "backup" : `backup.${error.field}`,
      cause: error.cause,
    });
  }
  if (await sameLocation(primary, backup)) {
    throw new ConfigError(
      `the backup points at the primary's own location (provider "${backup.definition.name}", the same place whatever the prefix): a backup there fails together with the primary; give it another ${describeLocationFields(backup.definition)}`,
      { provider: primary.definition.name, field: "backup" },
    );
  }
  return { primary, backup: { ...backup, input: backupInput } };
}

/**
 * The backup's raw config with the primary's `prefix` and `owner` filled in where it sets none
 * (the owner only where the backup's provider has one). Refused: a primary with an owner of its
 * own whose backup provider has no owner and shares the primary's prefix, since every other
 * owner's backup with that prefix would write the same names.
 */
async function inheritNamespace(
  primary: { definition: ProviderDefinition; config: ResolvedConfig },
  rawBackup: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const input: Record<string, unknown> = { ...rawBackup };
  if (input.prefix === undefined) input.prefix = primary.config.prefix;
  const definition = getProviderDefinition(input.provider ?? DEFAULT_PROVIDER);
  const hasOwner = fieldSchema(await loadOptionsSchema(definition), ["owner"]) !== undefined;
  const owner = primary.config.owner;
  if (typeof owner !== "string") return input;
  if (hasOwner) {
    if (input.owner === undefined) input.owner = owner;
    return input;
  }
  if (owner !== DEFAULT_OWNER && input.prefix === primary.config.prefix) {
    throw new ConfigError(
      `the backup (provider "${definition.name}") has no owner in its names, so the primary's owner "${owner}" cannot be kept there and every other owner's backup with prefix "${primary.config.prefix}" would share its secrets: give "backup.prefix" one of this owner's own (for example "${`${primary.config.prefix}-${owner}`.slice(0, 48)}")`,
      { provider: primary.definition.name, field: "backup.prefix" },
    );
  }
  return input;
}

/** Splits `backup` off a raw config object; anything else is returned as it is for `resolveConfig` to judge. */
export function splitBackupConfig(input: unknown): { primary: unknown; backup: unknown } {
  if (input === null || typeof input !== "object" || Array.isArray(input) || !("backup" in input)) {
    return { primary: input, backup: undefined };
  }
  const { backup, ...primary } = input as Record<string, unknown>;
  return { primary, backup };
}

async function sameLocation(
  a: { definition: ProviderDefinition; config: ResolvedConfig },
  b: { definition: ProviderDefinition; config: ResolvedConfig },
): Promise<boolean> {
  if (a.definition !== b.definition || !a.definition.location) return false;
  return (await comparableLocation(a.definition, a.config)) === (await comparableLocation(b.definition, b.config));
}

/**
 * Where a resolved config's secrets live, as one comparable string (its provider and its
 * definition's `location`), or undefined for a provider whose every store is a place of its own.
 */
export async function comparableLocation(
  definition: ProviderDefinition,
  config: ResolvedConfig,
): Promise<string | undefined> {
  if (!definition.location) return undefined;
  return JSON.stringify([definition.name, await definition.location(config)]);
}

/** "a, b or c": the fields that make up a provider's location (its definition's `locationFields`). */
function describeLocationFields(definition: ProviderDefinition): string {
  const fields = definition.locationFields ?? [];
  if (fields.length === 0) return "location";
  return fields.length === 1 ? (fields[0] as string) : `${fields.slice(0, -1).join(", ")} or ${fields.at(-1)}`;
}

/** Validates read cache options given in code (`SecretStore.fromAdapter`) and fills in defaults. */
export function resolveCacheOptions(input: unknown, provider: string): ResolvedCacheOptions | undefined {
  const result = v.safeParse(cacheSchema, input, PARSE_CONFIG);
  if (!result.success) {
    const issues = configIssues(cacheSchema, result.issues).map((issue) => ({
      ...issue,
      path: ["cache", ...issue.path],
    }));
    throw configErrorFromIssues(provider, issues);
  }
  return result.output;
}

/**
 * How an issue is worded where the schema has no message of its own: what is expected and the
 * type received, never the value, since a config holds credentials (valibot's own wording quotes
 * the value). The language is one nobody registers messages for, so that messages set globally
 * in an application's own valibot (`@valibot/i18n`'s quote the value too) never apply here.
 */
const PARSE_CONFIG: v.Config<v.BaseIssue<unknown>> = {
  lang: "omnisecret",
  abortEarly: false,
  abortPipeEarly: false,
  message: expectation,
};

function expectation(issue: v.BaseIssue<unknown>): string {
  const { input, expected, requirement } = issue;
  if (issue.kind === "schema") {
    if (input === undefined) return "is required";
    if (issue.type === "literal") return `must be ${expected}`;
    if (issue.type === "picklist")
      return `must be one of ${expected?.replace(/^\((.*)\)$/, "$1").replaceAll(" | ", ", ")}`;
    if (issue.type === "union") return "matches none of the accepted forms";
    const article = /^[aeiou]/i.test(expected ?? "") ? "an" : "a";
    return `must be ${article} ${expected?.toLowerCase()} (got ${typeName(input)})`;
  }
  switch (issue.type) {
    case "min_length":
      if (typeof input === "string")
        return requirement === 1 ? "must not be empty" : `must be at least ${requirement} characters`;
      return `must have at least ${requirement} item${requirement === 1 ? "" : "s"}`;
    case "min_value":
      return `must be at least ${requirement}`;
    case "max_value":
      return `must be at most ${requirement}`;
    case "safe_integer":
      return "must be a whole number";
    default:
      return "is invalid";
  }
}

/** The type of a value, as a message may name it: never the value itself. */
function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number" && Number.isNaN(value)) return "NaN";
  return typeof value;
}

/** One problem in a config, as `configErrorFromIssues` words it. */
interface ConfigIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  /** Fields the object at `path` has and the schema does not. */
  readonly unknownFields?: readonly string[];
}

/**
 * valibot's issues as config problems. Two kinds are reworded from the object's view to the
 * field's: a required field that is absent gets its own schema's message for `undefined` (the
 * GCP project's says where it can come from), and an unknown field (valibot names the first)
 * becomes one problem that lists every unknown field of that object.
 */
function configIssues(schema: v.GenericSchema, issues: readonly v.BaseIssue<unknown>[]): ConfigIssue[] {
  const result = issues.map((issue): ConfigIssue => {
    const path = (issue.path ?? []).map((item) => item.key as PropertyKey);
    const last = issue.path?.at(-1);
    if (last?.type !== "object" || last.origin !== "key") return { path, message: issue.message };
    // valibot takes an array for an object; what is wrong is then the array, not its keys.
    if (Array.isArray(last.input)) return { path: path.slice(0, -1), message: "must be an object (got array)" };
    if (issue.expected === "never") {
      const parent = path.slice(0, -1);
      const known = fieldSchema(schema, parent)?.entries ?? {};
      const unknownFields = Object.keys(last.input).filter((key) => !Object.hasOwn(known, key));
      return { path: parent, message: issue.message, unknownFields };
    }
    const field = fieldSchema(schema, path);
    const ownMessage = field && v.safeParse(field, undefined, PARSE_CONFIG).issues?.[0]?.message;
    return { path, message: ownMessage ?? issue.message };
  });
  const said = new Set<string>();
  return result.filter((issue) => {
    const key = JSON.stringify([issue.path.map(String), issue.message, issue.unknownFields]);
    return !said.has(key) && said.add(key) !== undefined;
  });
}

/** The schema of the field at `path`, through optional wrappers and pipes (a pipe carries its first schema's entries). */
function fieldSchema(
  schema: v.GenericSchema,
  path: readonly PropertyKey[],
): (v.GenericSchema & { entries?: Record<string, v.GenericSchema> }) | undefined {
  let current:
    | (v.GenericSchema & { wrapped?: v.GenericSchema; entries?: Record<string, v.GenericSchema> })
    | undefined = schema;
  for (const key of path) {
    while (current?.wrapped) current = current.wrapped;
    const entries: Record<string, v.GenericSchema> | undefined = current?.entries;
    current = entries && typeof key === "string" && Object.hasOwn(entries, key) ? entries[key] : undefined;
  }
  while (current?.wrapped) current = current.wrapped;
  return current;
}

function configErrorFromIssues(provider: string, issues: readonly ConfigIssue[]): ConfigError {
  // Issue messages state what was expected, not the value received, so keys and credentials in a
  // bad config are not echoed.
  const [first, ...rest] = issues;
  const field = first ? formatPath(first.path) : undefined;
  const describe = (issue: ConfigIssue): string => {
    const path = formatPath(issue.path);
    if (issue.unknownFields) {
      return `unknown field(s) ${issue.unknownFields.map((k) => `"${path ? `${path}.` : ""}${k}"`).join(", ")}`;
    }
    return `field "${path || "(root)"}": ${issue.message}`;
  };
  const details = [first, ...rest].filter((issue) => issue !== undefined).map(describe);
  return new ConfigError(`invalid configuration for provider "${provider}": ${details.join("; ")}`, {
    provider,
    field,
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

/** Reads a JSON config file. Parse errors do not quote the file, which may hold credentials. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`config file ${path} could not be read`, { field: "config", cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`config file ${path} is not valid JSON`, { field: "config" });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`, { field: "config" });
  }
  return parsed as Record<string, unknown>;
}

export interface ConfigSources {
  /** Environment variables; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
  /** A JSON config file; overrides `OMNISECRET_CONFIG`. */
  configFile?: string | undefined;
  /** Overrides the provider of the file and of `OMNISECRET_PROVIDER`. */
  provider?: string | undefined;
}

/**
 * Builds a raw config from a JSON file (`OMNISECRET_CONFIG`), `OMNISECRET_PROVIDER` and the
 * provider's `OMNISECRET_<PROVIDER>_<FIELD>` variables, in rising order of precedence, then the
 * provider's standard variables (such as `VAULT_ADDR`) for fields still unset.
 */
export function configFromSources(sources: ConfigSources = {}): Record<string, unknown> {
  const env = sources.env ?? process.env;
  const filePath = sources.configFile ?? nonEmpty(env.OMNISECRET_CONFIG);
  const fromFile = filePath ? readConfigFile(filePath) : {};
  const provider =
    sources.provider ??
    nonEmpty(env.OMNISECRET_PROVIDER) ??
    (fromFile.provider as string | undefined) ??
    DEFAULT_PROVIDER;
  const definition = getProviderDefinition(provider);

  // A file written for another provider still lends its common fields, never its
  // provider-specific ones, which the new provider's schema would reject.
  const base: Record<string, unknown> =
    fromFile.provider === undefined || fromFile.provider === provider
      ? { ...fromFile }
      : Object.fromEntries(COMMON_FIELDS.filter((f) => f in fromFile).map((f) => [f, fromFile[f]]));
  base.provider = provider;

  const prefix = nonEmpty(env.OMNISECRET_PREFIX);
  if (prefix !== undefined) base.prefix = prefix;
  const backup = nonEmpty(env.OMNISECRET_BACKUP_CONFIG);
  if (backup !== undefined) base.backup = backupFromEnv(backup);
  for (const field of CACHE_ENV_FIELDS) {
    const [name, raw] = firstSetVariable(env, field);
    if (name !== undefined && raw !== undefined) setPath(base, field.field, parseEnvValue(provider, field, name, raw));
  }

  for (const field of definition.envFields) {
    const [name, raw] = firstSetVariable(env, field);
    if (name === undefined || raw === undefined) continue;
    const ownVariable = name.startsWith("OMNISECRET_");
    // Standard variables (VAULT_ADDR, AWS_REGION, ...) fill gaps; they never override a config file.
    if (!ownVariable && getPath(base, field.field) !== undefined) continue;
    setPath(base, field.field, parseEnvValue(definition.name, field, name, raw));
  }
  return base;
}

/** `OMNISECRET_BACKUP_CONFIG`: a JSON object, or the path of a JSON config file. */
function backupFromEnv(raw: string): Record<string, unknown> {
  if (!raw.trimStart().startsWith("{")) return readConfigFile(raw);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // Not quoted: the variable may hold credentials.
    throw new ConfigError("environment variable OMNISECRET_BACKUP_CONFIG is not valid JSON", { field: "backup" });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError("environment variable OMNISECRET_BACKUP_CONFIG must hold a JSON object", { field: "backup" });
  }
  return parsed as Record<string, unknown>;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function firstSetVariable(env: NodeJS.ProcessEnv, field: EnvField): [string | undefined, string | undefined] {
  for (const name of field.names) {
    const value = nonEmpty(env[name]);
    if (value !== undefined) return [name, value];
  }
  return [undefined, undefined];
}

function parseEnvValue(provider: string, field: EnvField, name: string, raw: string): unknown {
  const fail = (expected: string) =>
    new ConfigError(`environment variable ${name} must be ${expected}`, { provider, field: field.field });
  switch (field.type) {
    case "string":
      return raw;
    case "integer": {
      if (!/^-?\d+$/.test(raw.trim())) throw fail("an integer");
      return Number(raw.trim());
    }
    case "boolean": {
      const normalized = raw.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(normalized)) return true;
      if (["0", "false", "no", "off"].includes(normalized)) return false;
      throw fail("true or false");
    }
    case "json":
      try {
        return JSON.parse(raw);
      } catch {
        throw fail("valid JSON");
      }
  }
}

function getPath(target: Record<string, unknown>, path: string): unknown {
  let current: unknown = target;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let current = target;
  for (const part of parts.slice(0, -1)) {
    const next = current[part];
    if (next === null || typeof next !== "object" || Array.isArray(next)) current[part] = {};
    current = current[part] as Record<string, unknown>;
  }
  current[parts[parts.length - 1] as string] = value;
}

/** Fields every config has whose values are never secret (the read cache's are `CACHE_ENV_FIELDS`). */
const ALWAYS_SHOWN: readonly EnvField[] = [
  { field: "provider", names: [], type: "string" },
  { field: "prefix", names: [], type: "string" },
];

/** The fields shown as they are: each one's type, or for an object the fields of it shown. */
type ShownFields = ReadonlyMap<string, EnvField["type"] | ShownFields>;

/**
 * A copy of a config that is safe to print. Shown are only the fields known not to be secret:
 * `provider`, `prefix`, the read cache's fields and the provider's environment fields not marked
 * secret, and an object only where such a field holds one (a JSON variable); the fields its
 * definition declares secret (`secretFields`: credentials, keys, tokens, opaque options, injected
 * clients) are replaced by "[redacted]", whole. So is anything else: a field no schema has (a config
 * that was not validated), every field of a provider that is not registered. A `backup` is redacted
 * as a config of its own; an object built in code shows as its class name.
 */
export function redactConfig(config: Record<string, unknown>): Record<string, unknown> {
  const definition = findProviderDefinition(config.provider ?? DEFAULT_PROVIDER);
  const shown = shownFields(
    [...ALWAYS_SHOWN, ...CACHE_ENV_FIELDS, ...(definition?.envFields ?? [])],
    definition?.secretFields ?? [],
  );
  // A backup that is not a config object is redacted as an unknown field is.
  if (!isPlainObject(config.backup)) return redactFields(config, shown);
  return { ...redactFields(config, shown), backup: redactConfig(config.backup) };
}

function shownFields(fields: readonly EnvField[], secretFields: readonly string[]): ShownFields {
  type Level = Map<string, EnvField["type"] | Level>;
  const root: Level = new Map();
  nextField: for (const field of fields) {
    const path = field.field.split(".");
    if (field.secret || secretFields.includes(path[0] as string)) continue;
    let level = root;
    for (const key of path.slice(0, -1)) {
      const next = level.get(key) ?? new Map();
      // A field shown whole (a JSON variable) already shows what is inside it.
      if (typeof next === "string") continue nextField;
      level.set(key, next);
      level = next;
    }
    level.set(path.at(-1) as string, field.type);
  }
  return root;
}

function redactFields(value: Record<string, unknown>, shown: ShownFields): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([field, item]) => [field, redactValue(item, shown.get(field))]));
}

function redactValue(value: unknown, shown: EnvField["type"] | ShownFields | undefined): unknown {
  if (value === undefined || value === null) return value;
  if (shown === undefined) return "[redacted]";
  if (typeof value !== "object") return value;
  if (!Array.isArray(value) && !isPlainObject(value))
    return `[${Object.getPrototypeOf(value)?.constructor?.name ?? "object"}]`;
  if (typeof shown !== "string") return isPlainObject(value) ? redactFields(value, shown) : "[redacted]";
  return shown === "json" ? value : "[redacted]";
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
