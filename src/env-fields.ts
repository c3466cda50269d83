/**
 * The mapping from environment variables to option fields. Plain data with no schema library,
 * so every provider's definition can carry its variables without loading its options schema.
 */

export type EnvFieldType = "string" | "integer" | "boolean" | "json";

/** One option field and the environment variables it can be read from, first match wins. */
export interface EnvField {
  /** Dotted path of the option, such as `path` or `credentials.accessKeyId`. */
  readonly field: string;
  /** Variable names, omnisecret's own first, then the provider's standard ones. */
  readonly names: readonly string[];
  readonly type: EnvFieldType;
  /** Credentials and keys: never shown in messages or inspect output. */
  readonly secret?: boolean;
}

/** `OMNISECRET_<PROVIDER>_<FIELD>` for a camelCase field, e.g. `local` + `maxValueBytes`. */
export function omnisecretEnvName(provider: string, field: string): string {
  const snake = field
    .split(".")
    .map((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1_$2"))
    .join("_")
    .toUpperCase();
  return `OMNISECRET_${provider.toUpperCase()}_${snake}`;
}

/** Shorthand for a field read from its `OMNISECRET_<PROVIDER>_<FIELD>` variable, then `standardNames`. */
export function envField(
  provider: string,
  field: string,
  type: EnvFieldType,
  options: { standardNames?: readonly string[]; secret?: boolean } = {},
): EnvField {
  return {
    field,
    type,
    names: [omnisecretEnvName(provider, field), ...(options.standardNames ?? [])],
    ...(options.secret ? { secret: true } : {}),
  };
}
