// A custom omnisecret adapter: each secret is a JSON file in a directory.
// Select it with { "provider": "custom", "module": "./examples/directory-adapter.mjs",
//                  "options": { "directory": "/tmp/my-secrets" } }
import { randomUUID } from "node:crypto";
import { link, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SecretAlreadyExistsError, SecretIntegrityError, SecretNotFoundError } from "omnisecret";

/** @param {{ directory: string }} options @param {{ prefix: string }} context */
export default async function createDirectoryAdapter(options, context) {
  const directory = join(options.directory, context.prefix);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const fileOf = (id) => join(directory, `${id}.json`);
  const exists = (id) =>
    stat(fileOf(id)).then(
      () => true,
      () => false,
    );
  // One write per id at a time in this process: an update checks that the file exists, then renames
  // over it, and a delete in between would be undone. (Across processes, use a real store.)
  const writing = new Map();
  const oneAtATime = (id, write) => {
    const done = (writing.get(id) ?? Promise.resolve()).then(write, write);
    writing.set(
      id,
      done.catch(() => undefined),
    );
    return done;
  };
  // Write to a temporary file and rename it, so a reader never sees half a file.
  const replace = async (id, serialized) => {
    const temporary = join(directory, `.${id}.${randomUUID()}.tmp`);
    await writeFile(temporary, serialized, { mode: 0o600 });
    await rename(temporary, fileOf(id));
  };

  /** @type {import("omnisecret").SecretsAdapter} */
  return {
    provider: "directory",
    maxValueBytes: 65_536,
    async storeSecretValues(id, _values, serialized) {
      // Written aside, then linked into place: link fails if the name exists (an atomic create, so
      // one of several racing stores wins), and a reader never sees half a file.
      const temporary = join(directory, `.${id}.${randomUUID()}.tmp`);
      await writeFile(temporary, serialized, { mode: 0o600 });
      try {
        await link(temporary, fileOf(id));
      } catch (error) {
        throw error.code === "EEXIST" ? new SecretAlreadyExistsError(id) : error;
      } finally {
        await unlink(temporary).catch(() => undefined);
      }
    },
    async getSecretValues(id) {
      const text = await readFile(fileOf(id), "utf8").catch((error) => {
        throw error.code === "ENOENT" ? new SecretNotFoundError(id) : error;
      });
      try {
        return JSON.parse(text);
      } catch {
        // The parser's message quotes the file, values and all: never pass it on.
        throw new SecretIntegrityError(id, "its file could not be parsed");
      }
    },
    updateSecretValues(id, _values, serialized) {
      return oneAtATime(id, async () => {
        if (!(await exists(id))) throw new SecretNotFoundError(id);
        await replace(id, serialized);
      });
    },
    deleteSecretValues(id) {
      return oneAtATime(id, () =>
        // unlink fails for all but one of several racing deletes (fs.rm would report each a success).
        unlink(fileOf(id)).catch((error) => {
          throw error.code === "ENOENT" ? new SecretNotFoundError(id) : error;
        }),
      );
    },
    async *listSecretIds() {
      for (const name of await readdir(directory)) {
        if (name.endsWith(".json")) yield name.slice(0, -".json".length);
      }
    },
  };
}
