// Preloaded with `node --import`: records every module URL the process resolves, so a test can
// prove which packages a provider loads. ESM imports are seen by the resolve hook; CommonJS
// requires made inside packages are added from the require cache by load-probe.mjs.
// `OMNISECRET_HIDE_PACKAGES` makes packages fail to resolve, as if they were not installed.
import { register } from "node:module";

register("./record-imports-hooks.mjs", import.meta.url, {
  data: { log: process.env.OMNISECRET_IMPORT_LOG, hide: process.env.OMNISECRET_HIDE_PACKAGES },
});
