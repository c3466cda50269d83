import { appendFileSync } from "node:fs";

let log;
/** Packages made to look not installed (`OMNISECRET_HIDE_PACKAGES`, comma-separated): an optional peer's absence. */
let hidden = [];

export function initialize(data) {
  log = data.log;
  hidden = data.hide ? data.hide.split(",") : [];
}

export async function resolve(specifier, context, nextResolve) {
  if (hidden.some((name) => specifier === name || specifier.startsWith(`${name}/`))) {
    throw Object.assign(new Error(`Cannot find package '${specifier}' (hidden by the test)`), {
      code: "ERR_MODULE_NOT_FOUND",
    });
  }
  const result = await nextResolve(specifier, context);
  if (log) appendFileSync(log, `${result.url}\n`);
  return result;
}
