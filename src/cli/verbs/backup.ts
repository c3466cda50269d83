import type { CliContext } from "../context.js";
import { registerBackupCopy } from "../copying.js";

export function registerBackup(context: CliContext): void {
  registerBackupCopy(
    context,
    "backup",
    "copy every secret of the primary store to its configured backup",
    "delete each primary secret once its copy was verified on the backup",
  );
}
