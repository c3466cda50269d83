/**
 * Where a local store lives on disk: the default path, and the one spelling of a path that two
 * configs naming the same file agree on. Kept apart from the adapter so that comparing locations
 * (the backup and copy refusals) does not load SQLite.
 */
import { realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import envPaths from "env-paths";

/** The database path used when none is configured: `<XDG data dir>/omnisecret/secrets.db`. */
export function defaultLocalStorePath(): string {
  return join(envPaths("omnisecret", { suffix: "" }).data, "secrets.db");
}

/**
 * The file a configured path names, spelled one way: absolute, the default filled in, symbolic
 * links resolved. The file (or its folders) may not exist yet: the longest existing ancestor is
 * resolved and the rest appended, so a folder reached through a link and through its real path
 * compare equal before the store is created too.
 */
export function canonicalLocalStorePath(path: string | undefined): string {
  const absolute = resolve(path ?? defaultLocalStorePath());
  const missing: string[] = [];
  for (let current = absolute; ; current = dirname(current)) {
    try {
      return join(realpathSync.native(current), ...missing.reverse());
    } catch {
      if (dirname(current) === current) return absolute;
      missing.push(basename(current));
    }
  }
}
