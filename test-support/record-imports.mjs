// Preloaded with `node --import`: records every module URL the process resolves, so a test can
// prove which packages a provider loads. ESM imports are seen by the resolve hook; CommonJS
// requires made inside packages are added from the require cache by load-probe.mjs.
import { register } from "node:module";

register("./record-imports-hooks.mjs", import.meta.url, { data: { log: process.env.OMNISECRET_IMPORT_LOG } });
