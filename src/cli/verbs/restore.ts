import type { CliContext } from "../context.js";
import { registerBackupCopy } from "../copying.js";

export function registerRestore(context: CliContext): void {
  registerBackupCopy(
    context,
    "restore",
    "copy every secret of the configured backup to the primary store",
    "delete each backup secret once its copy was verified on the primary",
  );
}
