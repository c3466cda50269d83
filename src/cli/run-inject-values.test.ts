/**
 * `run` and `inject` through the built CLI with `--verbose` and `NODE_DEBUG=omnisecret` (the only
 * debuglog section the code uses): the seeded values reach the command's environment or the output
 * file, and never stdout, stderr or the debug log, on success nor on any failure path.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoValueIn, seeded } from "../compare-stores.test-helper.js";
import { formatReference } from "../references.js";
import { SecretStore } from "../secret-store.js";
import { type BuiltRun, runBuiltCli } from "./built-cli.test-helper.js";
import { MASK } from "./masking.js";
import { EXIT_BAD_INPUT, EXIT_NOT_FOUND, EXIT_OK } from "./program.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-value-grep-"));
const path = join(directory, "from.db");
let fixture: Awaited<ReturnType<typeof seeded>>;

beforeAll(async () => {
  const [from, to] = await Promise.all([
    SecretStore.create({ provider: "local", path }),
    SecretStore.create({ provider: "local", path: join(directory, "to.db") }),
  ]);
  fixture = await seeded(from, to);
  await Promise.all([from.close(), to.close()]);
});

/**
 * The built CLI on the `from` store with `--verbose` and NODE_DEBUG's log in its stderr; fails if
 * stdout or stderr shows any seeded value, raw or JSON-escaped.
 */
async function omnisecret(args: string[], env: NodeJS.ProcessEnv = {}): Promise<BuiltRun> {
  const run = await runBuiltCli(["--verbose", ...args], { env: { OMNISECRET_LOCAL_PATH: path, ...env }, debug: true });
  expectNoValueIn(run.stdout + run.stderr, fixture.values);
  return run;
}

const DEBUG_LINE = /^OMNISECRET \d+: .*\n/gm;
/** stderr without NODE_DEBUG's lines, after checking the store's debug log is there (so it was grepped too). */
function ownStderr(run: BuiltRun): string {
  expect(run.stderr).toMatch(/^OMNISECRET \d+: local get secret [0-9a-f-]{36}$/m);
  return run.stderr.replace(DEBUG_LINE, "");
}

/** The variables `run` is given and the command prints: some from references in its environment, some in an env file, some an id's keys. */
const PRINTED = ["A", "U", "B", "N", "user", "password", "PLAIN"];
const printEnvironment = [
  "--",
  process.execPath,
  "-e",
  `const names = ${JSON.stringify(PRINTED)}; console.log(JSON.stringify(Object.fromEntries(names.map((n) => [n, process.env[n]])))); for (const n of names) console.error(n + "=" + process.env[n]);`,
];

function runArguments(): { args: string[]; env: NodeJS.ProcessEnv } {
  const { ids } = fixture;
  const envFile = join(directory, `app-${randomUUID()}.env`);
  writeFileSync(
    envFile,
    `B=${formatReference(ids.unicode, "ключ")}\nN=${formatReference(ids.normalization, "name")}\nPLAIN=plain text\n`,
  );
  return {
    args: ["run", ids.changed, "--env-file", envFile],
    env: { A: formatReference(ids.same, "password"), U: formatReference(ids.unicode, "clé 🔑") },
  };
}

describe("run shows no value with --verbose and NODE_DEBUG (built CLI, local store)", () => {
  it("passes every value to the command, whose output is masked", async () => {
    const { args, env } = runArguments();
    const result = await omnisecret([...args, ...printEnvironment], env);
    expect(result.code).toBe(EXIT_OK);
    const masked = Object.fromEntries(PRINTED.map((name) => [name, name === "PLAIN" ? "plain text" : MASK]));
    expect(result.stdout).toBe(`${JSON.stringify(masked)}\n`);
    // U's value ends in a newline, which its mask takes with it: each line is still one variable.
    expect(ownStderr(result)).toBe(PRINTED.map((name) => `${name}=${masked[name]}\n`).join(""));
  });

  it("fails on a missing key, a missing secret, a malformed reference and a missing command", async () => {
    const { ids } = fixture;
    const { args, env } = runArguments();
    const missingKey = await omnisecret([...args, ...printEnvironment], {
      ...env,
      X: formatReference(ids.same, "nope"),
    });
    expect(missingKey).toMatchObject({ code: EXIT_NOT_FOUND, stdout: "" });
    expect(ownStderr(missingKey)).toContain(
      `E_SECRET_NOT_FOUND: reference ${formatReference(ids.same, "nope")}: secret ${ids.same} has no key "nope"`,
    );

    const missingReferenced = randomUUID();
    const missingSecret = await omnisecret([...args, ...printEnvironment], {
      ...env,
      X: formatReference(missingReferenced, "k"),
    });
    expect(missingSecret).toMatchObject({ code: EXIT_NOT_FOUND, stdout: "" });
    expect(ownStderr(missingSecret)).toContain(
      `E_SECRET_NOT_FOUND: reference ${formatReference(missingReferenced, "k")}`,
    );
    // An id only the other store holds, given on the command line.
    const missingId = await omnisecret(["run", ids.onlyInTo, ...args.slice(1), ...printEnvironment], env);
    expect(missingId).toMatchObject({ code: EXIT_NOT_FOUND, stdout: "" });
    expect(ownStderr(missingId)).toContain(`E_SECRET_NOT_FOUND: secret ${ids.onlyInTo}`);

    // Refused before the store is opened: no debug log to check for.
    const malformed = await omnisecret([...args, ...printEnvironment], { ...env, X: `omnisecret://${ids.same}/a%zz` });
    expect(malformed).toMatchObject({ code: EXIT_BAD_INPUT, stdout: "" });
    expect(malformed.stderr).toContain("variable X: invalid reference");

    const program = join(directory, `no-such-command-${randomUUID()}`);
    const notFound = await omnisecret([...args, "--", program, "x"], env);
    expect(notFound).toMatchObject({ code: 127, stdout: "" });
    expect(ownStderr(notFound)).toContain(`could not start ${JSON.stringify(program)} (ENOENT)`);
  });
});

describe("inject shows no value with --verbose and NODE_DEBUG (built CLI, local store)", () => {
  it("writes the values to the output file only, and on a missing key writes nothing", async () => {
    const { ids } = fixture;
    const placeholders = [
      [ids.same, "password"],
      [ids.unicode, "clé 🔑"],
      [ids.unicode, "ключ"],
      [ids.normalization, "name"],
    ] as const;
    const template = join(directory, `config-${randomUUID()}.tmpl`);
    writeFileSync(template, placeholders.map(([id, key]) => `${key}: {{ ${formatReference(id, key)} }}\n`).join(""));
    const out = join(directory, `config-${randomUUID()}.out`);
    const rendered = await omnisecret(["inject", "-i", template, "-o", out]);
    expect(rendered).toMatchObject({ code: EXIT_OK, stdout: "" });
    expect(ownStderr(rendered)).toBe("");
    const store = await SecretStore.create({ provider: "local", path });
    const lines = [];
    for (const [id, key] of placeholders) lines.push(`${key}: ${(await store.getSecretValues(id))[key]}\n`);
    await store.close();
    expect(readFileSync(out, "utf8")).toBe(lines.join(""));

    const missing = join(directory, `missing-${randomUUID()}.tmpl`);
    writeFileSync(missing, `${readFileSync(template, "utf8")}x: {{ ${formatReference(ids.same, "nope")} }}\n`);
    const missingOut = join(directory, `missing-${randomUUID()}.out`);
    const failed = await omnisecret(["inject", "-i", missing, "-o", missingOut]);
    expect(failed).toMatchObject({ code: EXIT_NOT_FOUND, stdout: "" });
    expect(ownStderr(failed)).toContain(`E_SECRET_NOT_FOUND: reference ${formatReference(ids.same, "nope")}`);
    expect(existsSync(missingOut)).toBe(false);
  });
});
