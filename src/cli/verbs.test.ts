/**
 * The CLI verbs of issue 15: get with several ids, export, --from-dotenv, run, backup, restore
 * and migrate (against embedded stores; the server providers are in integration-tests/migrate.test.ts).
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect, promisify } from "node:util";
import { parse as dotenvParse } from "dotenv";
import { describe, expect, it } from "vitest";
import { SecretStore } from "../secret-store.js";
import { markedSecretValue } from "../testing/index.js";
import { EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, formatError } from "./program.js";
import { cliRunner } from "./run-cli.test-helper.js";
import { SHELL_TRICKY, TRICKY_VALUES } from "./tricky-values.test-helper.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "dist", "src", "cli", "main.js");
const directory = mkdtempSync(join(tmpdir(), "omnisecret-verbs-"));
const localEnv = { OMNISECRET_LOCAL_PATH: join(directory, "verbs.db") };

const cli = cliRunner(localEnv);

/** Environment variable names: what `set -a; . file` can assign. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A node one-liner run by `omnisecret run`: writes the named variables it sees to a file as JSON. */
function dumpEnv(file: string, names: string[]): string[] {
  const script = `require("node:fs").writeFileSync(${JSON.stringify(file)}, JSON.stringify(Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, process.env[n] ?? null]))))`;
  return ["--", process.execPath, "-e", script];
}

describe("omnisecret get with several ids", () => {
  it("prints an object keyed by id; one id keeps the plain output; a missing id is exit 1", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await cli(["store", a, "k=a"]);
    await cli(["store", b, "k=b"]);
    const both = await cli(["get", a, b]);
    expect(both.code).toBe(EXIT_OK);
    expect(JSON.parse(both.stdout)).toEqual({ [a]: { k: "a" }, [b]: { k: "b" } });
    expect(JSON.parse((await cli(["get", a])).stdout)).toEqual({ k: "a" });
    expect((await cli(["get", a, randomUUID()])).code).toBe(EXIT_NOT_FOUND);
    expect((await cli(["get", a, b, "--key", "k"])).code).toBe(EXIT_BAD_INPUT);
  });
});

describe("omnisecret export and --from-dotenv", () => {
  it("round-trips through dotenv the tricky values it accepts, refuses the others by key; JSON carries all", async () => {
    const id = randomUUID();
    const file = join(directory, "tricky.json");
    writeFileSync(file, JSON.stringify(TRICKY_VALUES));
    expect((await cli(["store", id, "--from-json", file])).code).toBe(EXIT_OK);
    expect(JSON.parse((await cli(["export", id, "--format", "json"])).stdout)).toEqual(TRICKY_VALUES);
    // dotenv carries a value both dotenv and `set -a; . file` read the same: single quotes, no ' and no CR inside.
    const carried = Object.entries(TRICKY_VALUES).filter(([key, value]) => ENV_NAME.test(key) && !/['\r]/.test(value));
    const refused = Object.entries(TRICKY_VALUES).filter(
      ([key]) => !carried.some(([carriedKey]) => carriedKey === key),
    );
    expect(carried.length).toBeGreaterThan(10);
    expect(refused.map(([key]) => key)).toEqual([
      "SINGLE",
      "TWO_QUOTES",
      "ALL_QUOTES",
      "CRLF",
      "NEWLINE_QUOTES",
      "dotted.key-name",
    ]);
    const whole = await cli(["export", id, "--format", "dotenv"]);
    expect(whole).toMatchObject({ code: EXIT_BAD_INPUT, stdout: "" });
    expect(whole.stderr).toContain('key "SINGLE"');
    for (const [key, value] of refused) {
      const alone = await storeJson({ [key]: value });
      const result = await cli(["export", alone, "--format", "dotenv"]);
      expect(result, key).toMatchObject({ code: EXIT_BAD_INPUT, stdout: "" });
      expect(result.stderr, key).toContain(`key ${JSON.stringify(key)}`);
    }
    const source = await storeJson(Object.fromEntries(carried));
    const exported = await cli(["export", source, "--format", "dotenv"]);
    expect(exported.code).toBe(EXIT_OK);
    const copy = randomUUID();
    expect((await cli(["store", copy, "--from-dotenv", "-"], { stdin: exported.stdout })).code).toBe(EXIT_OK);
    expect(JSON.parse((await cli(["get", copy])).stdout)).toEqual(Object.fromEntries(carried));
    const dotenvFile = join(directory, "values.env");
    writeFileSync(dotenvFile, "# comment\nUSER=admin\nPASSWORD='p#ss w0rd'\n");
    expect((await cli(["update", copy, "--from-dotenv", dotenvFile])).code).toBe(EXIT_OK);
    expect(JSON.parse((await cli(["get", copy])).stdout)).toEqual({ USER: "admin", PASSWORD: "p#ss w0rd" });
  });

  it("refuses what dotenv cannot carry, without printing the value", async () => {
    const id = randomUUID();
    const secret = `${markedSecretValue()}'\`"\\n\r`;
    const file = join(directory, "impossible.json");
    writeFileSync(file, JSON.stringify({ K: secret }));
    await cli(["store", id, "--from-json", file]);
    const result = await cli(["export", id, "--format", "dotenv"]);
    expect(result.code).toBe(EXIT_BAD_INPUT);
    expect(result.stderr).toContain('key "K"');
    expect(result.stderr + result.stdout).not.toContain(secret.slice(0, 20));
    expect((await cli(["export", id, "--format", "yaml"])).code).toBe(EXIT_BAD_INPUT);
  });

  it("--format dotenv writes only what bash, sh and dotenv read back the same; refuses the rest by key (issue 20.7)", async () => {
    const lines: string[] = [];
    const accepted: string[] = [];
    const refused: string[] = [];
    for (const [key, value] of Object.entries(SHELL_TRICKY)) {
      const result = await cli(["export", await storeJson({ [key]: value }), "--format", "dotenv"]);
      if (result.code === EXIT_OK) {
        expect(result.stderr).toBe("");
        lines.push(result.stdout);
        accepted.push(key);
        continue;
      }
      expect(result, key).toMatchObject({ code: EXIT_BAD_INPUT, stdout: "" });
      expect(result.stderr, key).toContain(`key ${JSON.stringify(key)}`);
      expect(result.stderr, key).toContain("--format shell");
      if (value.length > 1) expect(result.stderr, key).not.toContain(value);
      refused.push(key);
    }
    // Exactly the values with a single quote (no shell quoting dotenv also reads) or a CR (dotenv turns it into LF).
    expect(refused).toEqual(Object.keys(SHELL_TRICKY).filter((key) => /['\r]/.test(SHELL_TRICKY[key] as string)));
    expect(refused).toContain("QUOTE_INJECTION");
    expect(accepted).toEqual(expect.arrayContaining(["BACKTICK_INJECTION", "SUBSTITUTION_INJECTION", "HASH_INSIDE"]));
    const expected = Object.fromEntries(accepted.map((key) => [key, SHELL_TRICKY[key]]));
    const text = lines.join("");
    expect(dotenvParse(text)).toEqual(expected);
    const file = join(directory, `accepted-${randomUUID()}.env`);
    writeFileSync(file, text);
    const cwd = mkdtempSync(join(directory, "cwd-"));
    for (const shell of ["bash", "sh"]) {
      expect(pick(await sourcedEnv(shell, "set -a;", file, cwd), accepted), shell).toEqual(expected);
    }
    expect(readdirSync(cwd)).toEqual([]);
    const copy = randomUUID();
    expect((await cli(["store", copy, "--from-dotenv", file])).code).toBe(EXIT_OK);
    expect(JSON.parse((await cli(["get", copy])).stdout)).toEqual(expected);
  });

  it("refuses x'; touch F; echo ' as dotenv (exit 2, naming the key), and nothing runs", async () => {
    const id = await storeJson({ TOKEN: "x'; touch F; echo '" });
    const result = await cli(["export", id, "--format", "dotenv"]);
    expect(result).toMatchObject({ code: EXIT_BAD_INPUT, stdout: "" });
    expect(result.stderr).toContain('key "TOKEN"');
    expect(result.stderr).not.toContain("touch F");
  });

  it("--format shell writes export lines that bash and sh read back exactly, running nothing (issue 20.7)", async () => {
    const id = await storeJson(SHELL_TRICKY);
    const exported = await cli(["export", id, "--format", "shell"]);
    expect(exported).toMatchObject({ code: EXIT_OK, stderr: "" });
    expect(exported.stdout).toContain(`export QUOTE_INJECTION='x'\\''; touch PWNED; echo '\\'''\n`);
    const file = join(directory, `shell-${id}.sh`);
    writeFileSync(file, exported.stdout);
    const cwd = mkdtempSync(join(directory, "cwd-"));
    const keys = Object.keys(SHELL_TRICKY);
    for (const shell of ["bash", "sh"]) {
      // With set -a (what people do with a .env file) and without (the lines export themselves).
      expect(pick(await sourcedEnv(shell, "set -a;", file, cwd), keys), shell).toEqual(SHELL_TRICKY);
      expect(pick(await sourcedEnv(shell, "", file, cwd), keys), shell).toEqual(SHELL_TRICKY);
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("--format shell refuses a key that is not an environment name, and a NUL byte, naming the key", async () => {
    const badKey = await cli(["export", await storeJson({ "a.b": "v" }), "--format", "shell"]);
    expect(badKey).toMatchObject({ code: EXIT_BAD_INPUT, stdout: "" });
    expect(badKey.stderr).toContain('key "a.b"');
    const secret = markedSecretValue();
    for (const format of ["shell", "dotenv"]) {
      const nul = await cli(["export", await storeJson({ K: `${secret}\0x` }), "--format", format]);
      expect(nul, format).toMatchObject({ code: EXIT_BAD_INPUT, stdout: "" });
      expect(nul.stderr, format).toContain('key "K"');
      expect(nul.stderr, format).not.toContain(secret);
    }
  });

  it("--from-dotenv refuses a line it cannot read exactly: exit 2, its line number, never its text (issue 20.8)", async () => {
    const id = randomUUID();
    await cli(["store", id, "KEEP=me"]);
    const secret = markedSecretValue();
    const head = ["# a comment", "USER=admin", "MULTI='one", "two'", ""];
    const bad: Record<string, string> = {
      "a key with a space": `DB PASSWORD=${secret}`,
      "a key that is not ASCII": `ÜBER=${secret}`,
      "a key with a dot": `a.b=${secret}`,
      "a key starting with a digit": `1ST=${secret}`,
      "an unquoted value with #": `PW=${secret}#def`,
      "an unquoted value with ' #'": `PW=${secret} # cut here?`,
      "an unquoted value that is only a comment": `PW=#${secret}`,
      "a line that is no assignment": `${secret}`,
      "a colon instead of =": `PW: ${secret}`,
      "an unterminated quote": `PW='${secret}`,
      "text after the closing quote": `PW='${secret}'x`,
      "an escaped double quote": `PW="${secret}\\"x"`,
      "a backtick-quoted value": `PW=\`${secret}\``,
      "a quote dotenv reads further than the line": `PW='${secret}\\' # x'`,
      "a duplicate key": `USER=${secret}`,
    };
    for (const [what, line] of Object.entries(bad)) {
      const file = join(directory, `bad-${randomUUID()}.env`);
      writeFileSync(file, [...head, line, "LAST=1", ""].join("\n"));
      const result = await cli(["update", id, "--from-dotenv", file]);
      expect(result, what).toMatchObject({ code: EXIT_BAD_INPUT, stdout: "" });
      expect(result.stderr, what).toMatch(what === "a duplicate key" ? /lines 2 and 6\b/ : /line 6\b/);
      expect(result.stderr, what).not.toContain(secret);
    }
    expect(JSON.parse((await cli(["get", id])).stdout)).toEqual({ KEEP: "me" });
  });

  it("--from-dotenv reads comments, export, quotes, multi-line values and CRLF files exactly", async () => {
    const id = randomUUID();
    const text = [
      "# a comment",
      "",
      "export A=plain value  ",
      "B='single # kept' # a comment",
      'C="double\\nline\\r" ',
      "D='multi",
      "line'",
      "E=",
      "  F = spaced",
      'H="a # b"',
      "I=ünïcødé",
      "",
    ].join("\r\n");
    const stored = await cli(["store", id, "--from-dotenv", "-"], { stdin: text });
    expect(stored).toMatchObject({ code: EXIT_OK, stderr: "" });
    expect(JSON.parse((await cli(["get", id])).stdout)).toEqual({
      A: "plain value",
      B: "single # kept",
      C: "double\nline\r",
      D: "multi\nline",
      E: "",
      F: "spaced",
      H: "a # b",
      I: "ünïcødé",
    });
  });
});

describe("omnisecret run", () => {
  it("runs the command with the secrets' keys as variables, and passes its exit code through", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const secret = markedSecretValue();
    await cli(["store", a, `DB_PASSWORD=${secret}`, "DB_USER=admin"]);
    await cli(["store", b, "API_TOKEN=t0k"]);
    const out = join(directory, `run-${a}.json`);
    const result = await cli(["run", a, b, ...dumpEnv(out, ["DB_PASSWORD", "DB_USER", "API_TOKEN"])]);
    expect(result).toMatchObject({ code: EXIT_OK, stdout: "", stderr: "" });
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ DB_PASSWORD: secret, DB_USER: "admin", API_TOKEN: "t0k" });
    const failing = await cli(["run", a, "--", process.execPath, "-e", "process.exit(7)"]);
    expect(failing).toMatchObject({ code: 7, stderr: "" });
  });

  it("refuses invalid names and duplicate keys before the command starts, unless --prefix / --allow-override", async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await cli(["store", a, "SHARED=first"]);
    await cli(["store", b, "SHARED=second"]);
    await cli(["store", c, "1ST=digit"]);
    const marker = join(directory, `never-${a}`);
    const touch = ["--", process.execPath, "-e", `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran")`];
    const duplicate = await cli(["run", a, b, ...touch]);
    expect(duplicate.code).toBe(EXIT_BAD_INPUT);
    expect(duplicate.stderr).toContain('both have key "SHARED"');
    const invalid = await cli(["run", c, ...touch]);
    expect(invalid.code).toBe(EXIT_BAD_INPUT);
    expect(invalid.stderr).toContain("not a valid environment variable name");
    expect(() => readFileSync(marker)).toThrow();
    const out = join(directory, `override-${a}.json`);
    expect((await cli(["run", a, b, "--allow-override", ...dumpEnv(out, ["SHARED"])])).code).toBe(EXIT_OK);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ SHARED: "second" });
    expect((await cli(["run", c, "--prefix", "APP_", ...dumpEnv(out, ["APP_1ST"])])).code).toBe(EXIT_OK);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ APP_1ST: "digit" });
    expect((await cli(["run", a])).code).toBe(EXIT_BAD_INPUT);
    expect((await cli(["run", a, "--", join(directory, "no-such-command")])).code).toBe(127);
  });

  it("forwards a signal to the command, and keeps values off the command line (installed binary)", async () => {
    const id = randomUUID();
    const secret = markedSecretValue();
    await cli(["store", id, `TOKEN=${secret}`]);
    const script =
      "process.on('SIGTERM', () => { console.log('got SIGTERM ' + process.env.TOKEN.length); process.exit(42); }); console.log('ready'); setInterval(() => {}, 1000);";
    const child = spawn(process.execPath, [bin, "run", id, "--", process.execPath, "-e", script], {
      env: { ...process.env, ...localEnv },
    });
    let output = "";
    const ready = new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("ready")) resolve();
      });
    });
    await ready;
    const { stdout: commandLines } = await promisify(execFile)("ps", ["-eo", "args"]);
    expect(commandLines).not.toContain(secret);
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.on("exit", (exitCode) => resolve(exitCode)));
    expect(code).toBe(42);
    expect(output).toContain(`got SIGTERM ${secret.length}`);
  });
});

describe("omnisecret backup, restore and migrate (embedded stores)", () => {
  it("backup copies the primary to the backup, restore copies back; the summary has no value", async () => {
    const primaryPath = join(directory, `primary-${randomUUID()}.db`);
    const backupPath = join(directory, `backup-${randomUUID()}.db`);
    const env = {
      OMNISECRET_LOCAL_PATH: primaryPath,
      OMNISECRET_BACKUP_CONFIG: JSON.stringify({ provider: "local", path: backupPath }),
    };
    const primary = await SecretStore.create({ provider: "local", path: primaryPath });
    const ids = Array.from({ length: 12 }, () => randomUUID());
    const secret = markedSecretValue();
    for (const id of ids) await primary.storeSecretValues(id, { id, secret });
    await primary.close();

    const dry = await cli(["backup", "--dry-run"], { env });
    expect(dry.code).toBe(EXIT_OK);
    expect(dry.stdout).toContain("dry run (nothing written or deleted): would copy 12 of 12");
    const backupStore = await SecretStore.create({ provider: "local", path: backupPath });
    expect(await countOf(backupStore)).toBe(0);

    const result = await cli(["backup", "--delete-secrets"], { env });
    expect(result.code).toBe(EXIT_OK);
    expect(result.stdout).toContain("copied 12 of 12 (0 already there), skipped 0, failed 0, deleted 12");
    expect(result.stderr).toMatch(/backup: 12\/12 \(/);
    expect(result.stdout + result.stderr).not.toContain(secret);
    expect(await countOf(backupStore)).toBe(12);

    const restored = await cli(["restore"], { env });
    expect(restored.code).toBe(EXIT_OK);
    const again = await SecretStore.create({ provider: "local", path: primaryPath });
    expect(await countOf(again)).toBe(12);
    expect(await again.getSecretValues(ids[0] as string)).toEqual({ id: ids[0], secret });
    await again.close();
    await backupStore.close();
    expect((await cli(["backup"], { env: localEnv })).code).toBe(EXIT_BAD_INPUT);
  });

  it("migrate between two config files reports conflicts with exit code 3 and leaves them alone", async () => {
    const fromFile = join(directory, `from-${randomUUID()}.json`);
    const toFile = join(directory, `to-${randomUUID()}.json`);
    const fromPath = join(directory, `from-${randomUUID()}.db`);
    const toPath = join(directory, `to-${randomUUID()}.db`);
    writeFileSync(fromFile, JSON.stringify({ provider: "local", path: fromPath }));
    writeFileSync(toFile, JSON.stringify({ provider: "local", path: toPath }));
    const from = await SecretStore.create({ provider: "local", path: fromPath });
    const to = await SecretStore.create({ provider: "local", path: toPath });
    const [a, b] = [randomUUID(), randomUUID()];
    await from.storeSecretValues(a, { v: "a" });
    await from.storeSecretValues(b, { v: "b" });
    await to.storeSecretValues(b, { v: "theirs" });
    const result = await cli(["migrate", "--from", fromFile, "--to", toFile, "--delete-source"]);
    expect(result.code).toBe(EXIT_FAILURE);
    expect(result.stdout).toContain(`failed ${b}: E_SECRET_EXISTS`);
    expect(await to.getSecretValues(b)).toEqual({ v: "theirs" });
    expect(await countOf(from)).toBe(1);
    const replaced = await cli(["migrate", "--from", fromFile, "--to", toFile, "--delete-source", "--overwrite"]);
    expect(replaced.code).toBe(EXIT_OK);
    expect(await to.getSecretValues(b)).toEqual({ v: "b" });
    expect(await countOf(from)).toBe(0);
    await from.close();
    await to.close();
    expect((await cli(["migrate", "--from", fromFile])).code).toBe(EXIT_BAD_INPUT);
  });
});

/** Stores `values` (from a JSON file) as a new secret; returns its id. */
async function storeJson(values: Record<string, string>): Promise<string> {
  const id = randomUUID();
  const file = join(directory, `values-${id}.json`);
  writeFileSync(file, JSON.stringify(values));
  const result = await cli(["store", id, "--from-json", file]);
  if (result.code !== EXIT_OK) throw new Error(`store failed: ${result.stderr}`);
  return id;
}

/**
 * The environment `shell` (bash or sh) passes on after `<prefix> . file`, as node sees it. It runs
 * in `cwd`, a fresh folder, so that a value which runs `touch PWNED` leaves a file there.
 */
async function sourcedEnv(shell: string, prefix: string, file: string, cwd: string): Promise<Record<string, string>> {
  const script = `${prefix} . "$1" && exec "$2" -e 'process.stdout.write(JSON.stringify(process.env))'`;
  const { stdout } = await promisify(execFile)(shell, ["-c", script, shell, file, process.execPath], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  return JSON.parse(stdout) as Record<string, string>;
}

function pick(env: Record<string, string>, keys: readonly string[]): Record<string, string | undefined> {
  return Object.fromEntries(keys.map((key) => [key, env[key]]));
}

async function countOf(store: SecretStore): Promise<number> {
  let count = 0;
  for await (const _ of store.listSecretIds()) count += 1;
  return count;
}

describe("omnisecret run: issue 20", () => {
  it("refuses a value with a NUL byte before spawning, naming the key and the secret, never the value", async () => {
    const id = randomUUID();
    const secret = `${markedSecretValue()}\x00x`;
    await cli(["store", id, `NUL_VALUE=${secret}`]);
    const marker = join(directory, `never-nul-${id}`);
    const touch = ["--", process.execPath, "-e", `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran")`];
    const result = await cli(["run", id, ...touch]);
    expect(result.code).toBe(EXIT_BAD_INPUT);
    expect(result.stderr).toContain("NUL_VALUE");
    expect(result.stderr).toContain(id);
    expect(result.stderr).not.toContain(secret.slice(0, 20));
    expect(() => readFileSync(marker)).toThrow();
  });

  it("formatError cuts out the inspect-escaped and JSON-escaped forms of a value too", () => {
    const secret = `${markedSecretValue()}\x00x\n"q"\\`;
    const error = new TypeError(`must be a string without null bytes. Received ${inspect(secret)}`, {
      cause: new Error(`payload ${JSON.stringify({ K: secret })}`),
    });
    const text = formatError(error, true, { K: secret });
    expect(text).toContain("without null bytes");
    expect(text).not.toContain(secret.slice(0, 20));
  });

  it("--allow-override: the id listed last wins, also when it was listed before", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await cli(["store", a, "SHARED=first", "ONLY_A=a"]);
    await cli(["store", b, "SHARED=second"]);
    const out = join(directory, `override-order-${a}.json`);
    const names = ["SHARED", "ONLY_A"];
    expect((await cli(["run", a, b, a, "--allow-override", ...dumpEnv(out, names)])).code).toBe(EXIT_OK);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ SHARED: "first", ONLY_A: "a" });
    expect((await cli(["run", b, a, b, "--allow-override", ...dumpEnv(out, names)])).code).toBe(EXIT_OK);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ SHARED: "second", ONLY_A: "a" });
    expect((await cli(["run", a, b, "--allow-override", ...dumpEnv(out, names)])).code).toBe(EXIT_OK);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ SHARED: "second", ONLY_A: "a" });
  });

  it("does not pass omnisecret's credential variables on to the command", async () => {
    const id = randomUUID();
    const path = join(directory, `credentials-${id}.db`);
    const env: NodeJS.ProcessEnv = {
      OMNISECRET_LOCAL_PATH: path,
      OMNISECRET_LOCAL_KEY: randomBytes(32).toString("base64"),
      OMNISECRET_VAULT_TOKEN: "vault-token-value",
      OMNISECRET_AWS_CREDENTIALS_SECRET_ACCESS_KEY: "aws-secret-value",
      OMNISECRET_CUSTOM_OPTIONS: '{"token":"custom-secret"}',
      OMNISECRET_BACKUP_CONFIG: JSON.stringify({
        provider: "local",
        path: `${path}.backup`,
        key: randomBytes(32).toString("base64"),
      }),
      VAULT_ADDR: "http://vault.example:8200",
      AWS_REGION: "eu-west-1",
      OTHER_VARIABLE: "kept",
    };
    expect(await cli(["store", id, "TOKEN=t0k3n"], { env })).toMatchObject({ code: EXIT_OK, stderr: "" });
    const out = join(directory, `credentials-${id}.json`);
    const names = [...Object.keys(env), "TOKEN"];
    expect((await cli(["run", id, ...dumpEnv(out, names)], { env })).code).toBe(EXIT_OK);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({
      OMNISECRET_LOCAL_PATH: path,
      OMNISECRET_LOCAL_KEY: null,
      OMNISECRET_VAULT_TOKEN: null,
      OMNISECRET_AWS_CREDENTIALS_SECRET_ACCESS_KEY: null,
      OMNISECRET_CUSTOM_OPTIONS: null,
      OMNISECRET_BACKUP_CONFIG: null,
      VAULT_ADDR: "http://vault.example:8200",
      AWS_REGION: "eu-west-1",
      OTHER_VARIABLE: "kept",
      TOKEN: "t0k3n",
    });
    // A backup config given as a file path carries no credential: it is passed on.
    const backupFile = join(directory, `backup-${id}.json`);
    writeFileSync(backupFile, JSON.stringify({ provider: "local", path: `${path}.backup-file` }));
    const withFile = { ...env, OMNISECRET_BACKUP_CONFIG: backupFile };
    expect((await cli(["run", id, ...dumpEnv(out, ["OMNISECRET_BACKUP_CONFIG"])], { env: withFile })).code).toBe(
      EXIT_OK,
    );
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ OMNISECRET_BACKUP_CONFIG: backupFile });
  });
});

describe("no form of a value reaches stderr (issue 20)", () => {
  const pem = `-----BEGIN PRIVATE KEY-----\n${markedSecretValue()}\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n`;
  const values = {
    PEM: pem,
    QUOTED: `${markedSecretValue()}"with"quotes`,
    BACKSLASH: `${markedSecretValue()}\\with\\backslashes`,
    PLAIN: markedSecretValue(),
  };
  const formsOf = (value: string) => [value, JSON.stringify(value).slice(1, -1), inspect(value).slice(1, -1)];

  it("store --from-json with an adapter whose error quotes the serialized map", async () => {
    const module = join(directory, "quoting-adapter.mjs");
    writeFileSync(
      module,
      `export default function createQuotingAdapter() {
  const fail = async (id, _values, serialized) => {
    throw new Error(\`could not write \${id}: \${serialized}\`);
  };
  return { provider: "quoting", maxValueBytes: 65_536, storeSecretValues: fail, getSecretValues: fail, updateSecretValues: fail, deleteSecretValues: fail };
}
`,
    );
    const file = join(directory, "four-values.json");
    writeFileSync(file, JSON.stringify(values));
    const env = { OMNISECRET_PROVIDER: "custom", OMNISECRET_CUSTOM_MODULE: module };
    for (const verbose of [[], ["--verbose"]]) {
      const result = await cli([...verbose, "store", randomUUID(), "--from-json", file], { env });
      expect(result.code).toBe(EXIT_FAILURE);
      expect(result.stderr).toContain("E_UNKNOWN");
      for (const [key, value] of Object.entries(values)) {
        for (const form of formsOf(value)) expect(result.stderr, `${key}: ${form}`).not.toContain(form);
      }
    }

    // The library: message, stack, util.inspect and the cause chain.
    const store = await SecretStore.create({ provider: "custom", module });
    const error = await store.storeSecretValues(randomUUID(), values).catch((caught: unknown) => caught);
    await store.close();
    expect(error).toMatchObject({ code: "E_UNKNOWN" });
    const texts = [inspect(error, { depth: 10 })];
    for (let cause = error; cause instanceof Error; cause = cause.cause) texts.push(cause.message, cause.stack ?? "");
    for (const text of texts) {
      for (const [key, value] of Object.entries(values)) {
        for (const form of formsOf(value)) expect(text, `${key}: ${form}`).not.toContain(form);
      }
    }
  });

  it("get from examples/directory-adapter.mjs with a corrupted file prints no part of it, with or without a backup", async () => {
    const storeDirectory = mkdtempSync(join(tmpdir(), "omnisecret-directory-"));
    const custom = {
      provider: "custom",
      module: "./examples/directory-adapter.mjs",
      options: { directory: storeDirectory },
    };
    const plainConfig = join(directory, "directory-store.json");
    writeFileSync(plainConfig, JSON.stringify(custom));
    const backupConfig = join(directory, "directory-store-with-backup.json");
    writeFileSync(
      backupConfig,
      JSON.stringify({ ...custom, backup: { provider: "local", path: join(directory, "directory-backup.db") } }),
    );
    const id = randomUUID();
    const secret = markedSecretValue();
    expect((await cli(["--config", plainConfig, "store", id, `pw=${secret}`])).code).toBe(EXIT_OK);
    const file = findFile(storeDirectory, `${id}.json`);
    writeFileSync(file, `{"pw":${secret}}`);
    for (const config of [plainConfig, backupConfig]) {
      for (const verbose of [[], ["--verbose"]]) {
        const result = await cli([...verbose, "--config", config, "get", id]);
        expect(result.code, config).toBe(EXIT_FAILURE);
        expect(result.stderr).toContain("E_SECRET_INTEGRITY");
        expect(result.stderr).toContain(id);
        for (const part of [secret.slice(0, 10), '"pw"', "Unexpected token", "not valid JSON"]) {
          expect(result.stderr, `${config}: ${part}`).not.toContain(part);
        }
      }
    }
  });
});

function findFile(root: string, name: string): string {
  for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name === name) return join(entry.parentPath, entry.name);
  }
  throw new Error(`${name} not found under ${root}`);
}
