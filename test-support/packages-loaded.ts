import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const directory = mkdtempSync(join(tmpdir(), "omnisecret-lazy-"));

/** npm packages of every cloud SDK omnisecret can use; none may load unless its provider is selected. */
export const CLOUD_SDK_PACKAGES = [
  "@aws-sdk/client-secrets-manager",
  "@smithy/smithy-client",
  "@google-cloud/secret-manager",
  "google-gax",
  "@grpc/grpc-js",
  "@azure/keyvault-secrets",
  "@azure/identity",
  "@azure/core-rest-pipeline",
  "node-vault",
];

/** Runs a fresh process that creates a store with `config` and does one round trip; returns the packages it loaded. */
export function packagesLoadedFor(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  const log = join(directory, `imports-${Math.random().toString(36).slice(2)}.log`);
  const output = execFileSync(
    process.execPath,
    ["--import", "./test-support/record-imports.mjs", "./test-support/load-probe.mjs", JSON.stringify(config)],
    { cwd: root, env: { ...process.env, ...env, OMNISECRET_IMPORT_LOG: log }, encoding: "utf8" },
  );
  return JSON.parse(output) as string[];
}
