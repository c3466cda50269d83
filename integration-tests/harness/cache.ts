import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * Where servers are installed and built: outside the clone, so a fresh clone (as CI makes on
 * every run) reuses what an earlier run installed. `OMNISECRET_CACHE_DIR` moves it.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.OMNISECRET_CACHE_DIR;
  return configured ? resolve(configured) : join(homedir(), ".cache", "omnisecret");
}
