// A store with a backup, batch reads, and a verified copy to another store.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copySecrets, SecretStore } from "omnisecret";

const dir = mkdtempSync(join(tmpdir(), "omnisecret-example-"));
const store = await SecretStore.create(
  {
    provider: "local",
    path: join(dir, "primary.db"),
    backup: { provider: "local", path: join(dir, "backup.db") }, // any provider's config
  },
  { onBackupError: (event) => console.warn(event.kind, event.operation, event.secretId, event.error.code) },
);
const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
await store.storeSecretValues(a, { user: "app", password: "s3cret" }); // primary, then backup
await store.storeSecretValues(b, { token: "t" });

// One result per id: { values } or { error }; a missing id throws, or is left out with "skip".
const results = await store.getManySecretValues([a, b, crypto.randomUUID()], { concurrency: 4, onMissing: "skip" });
assert.deepEqual(results.get(a), { values: { user: "app", password: "s3cret" } });
assert.equal(results.size, 2);

// Move everything to another store: each copy is read back and compared before its source goes
// (a target that dies with the process, like the memory store, is refused when sources are deleted).
const target = await SecretStore.create({ provider: "local", path: join(dir, "target.db") });
const summary = await copySecrets(store, target, {
  concurrency: 8,
  deleteSource: true,
  onProgress: ({ done, total }) => console.log(`${done}/${total}`),
});
assert.deepEqual([summary.copied.length, summary.failed.length, summary.deleted], [2, 0, 2]);
assert.deepEqual(await target.getSecretValues(b), { token: "t" });
await Promise.all([store.close(), target.close()]);
