import { createAdapterFromConfig } from "./secret-store.js";
import { testBackupStoreModel } from "./testing/index.js";

// Two memory stores as the primary and the backup, behind the fault injector.
testBackupStoreModel("memory over memory", {
  createSide: async () => (await createAdapterFromConfig({ provider: "memory" })).adapter,
});
