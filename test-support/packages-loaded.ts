import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { providers } from "../src/providers.js";

const root = join(import.meta.dirname, "..");
const directory = mkdtempSync(join(tmpdir(), "omnisecret-lazy-"));

/**
 * npm packages of every cloud SDK omnisecret can use; none may load unless its provider is
 * selected. The providers' own `sdkPackages`, plus packages those SDKs load themselves, so a
 * stray import of an SDK's dependency is caught as well.
 */
export const CLOUD_SDK_PACKAGES = [
  ...new Set([
    ...providers.flatMap((definition) => definition.sdkPackages).filter((name) => name !== "better-sqlite3"),
    "@smithy/smithy-client",
    "google-gax",
    "@grpc/grpc-js",
    "@azure/core-rest-pipeline",
  ]),
];

export interface LoadedModules {
  /** npm packages, such as `@aws-sdk/client-secrets-manager`. */
  readonly packages: string[];
  /** omnisecret's own modules, as paths below dist/ such as `adapters/aws/options.js`. */
  readonly ownModules: string[];
}

/**
 * Runs a fresh process that creates a store with `config` and does one round trip (none with
 * `OMNISECRET_PROBE_OPERATIONS=0` in `env`); returns what it loaded.
 */
export function modulesLoadedFor(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): LoadedModules {
  const log = join(directory, `imports-${Math.random().toString(36).slice(2)}.log`);
  const output = execFileSync(
    process.execPath,
    ["--import", "./test-support/record-imports.mjs", "./test-support/load-probe.mjs", JSON.stringify(config)],
    { cwd: root, env: { ...process.env, ...env, OMNISECRET_IMPORT_LOG: log }, encoding: "utf8" },
  );
  return JSON.parse(output) as LoadedModules;
}

/** The npm packages `modulesLoadedFor` saw. */
export function packagesLoadedFor(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  return modulesLoadedFor(config, env).packages;
}
