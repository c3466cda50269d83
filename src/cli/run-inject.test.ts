/**
 * Issue 25 through the built CLI: `run` resolving references from its environment and env files,
 * masking the command's output, restarting it with `--watch`; and `inject`.
 */
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatReference } from "../references.js";
import { markedSecretValue } from "../testing/index.js";
import { MASK } from "./masking.js";
import { EXIT_BAD_INPUT, EXIT_NOT_FOUND, EXIT_OK } from "./program.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "dist", "src", "cli", "main.js");
const directory = mkdtempSync(join(tmpdir(), "omnisecret-run25-"));
const env = { ...process.env, OMNISECRET_LOCAL_PATH: join(directory, "run.db") };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built CLI, its output captured through pipes. */
function omnisecret(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...env, ...extraEnv } }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: unknown }).code as number) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `-- node -e script`: the child `run` starts. */
const node = (script: string) => ["--", process.execPath, "-e", script];

/** A child that writes each byte of $NAME on its own, waiting between writes so each is its own chunk. */
function byteByByte(name: string): string[] {
  return node(
    `const b = Buffer.from("[" + process.env.${name} + "]"); let i = 0; const next = () => { if (i === b.length) return; process.stdout.write(b.subarray(i, ++i)); setTimeout(next, 2); }; next();`,
  );
}

describe("omnisecret run with references and masking (built CLI)", () => {
  it("resolves references in its environment and in env files, and masks every value in the output", async () => {
    const id = randomUUID();
    const secret = markedSecretValue();
    const multiLine = `first ${randomUUID()}\nsecond "quoted" \\ line`;
    await omnisecret(["store", id, `TOKEN=${secret}`, `PEM=${multiLine}`, "path/key=from-a-slash-key"]);
    const envFile = join(directory, `app-${id}.env`);
    writeFileSync(
      envFile,
      `# refs\nPEM_VAR=${formatReference(id, "PEM")}\nSLASHED=${formatReference(id, "path/key")}\nPLAIN='plain value'\n`,
    );
    const script =
      "console.log(JSON.stringify({ t: process.env.TOKEN_VAR, p: process.env.PEM_VAR, s: process.env.SLASHED, plain: process.env.PLAIN })); console.error('err ' + process.env.TOKEN_VAR); console.log(process.env.PEM_VAR);";
    const result = await omnisecret(["run", "--env-file", envFile, ...node(script)], {
      TOKEN_VAR: `omnisecret://${id}/TOKEN`,
    });
    expect(result.code).toBe(EXIT_OK);
    const printed = result.stdout + result.stderr;
    for (const value of [secret, multiLine, JSON.stringify(multiLine).slice(1, -1), "from-a-slash-key"]) {
      expect(printed).not.toContain(value);
    }
    expect(result.stdout).toBe(`{"t":"${MASK}","p":"${MASK}","s":"${MASK}","plain":"plain value"}\n${MASK}\n`);
    expect(result.stderr).toBe(`err ${MASK}\n`);
  });

  it("masks a value written one byte at a time, and one split at every possible chunk boundary", async () => {
    const id = randomUUID();
    const secret = `v-${randomUUID()}`;
    await omnisecret(["store", id, `S=${secret}`]);
    const slow = await omnisecret(["run", id, ...byteByByte("S")]);
    expect(slow).toMatchObject({ code: EXIT_OK, stdout: `[${MASK}]` });
    // Two writes a few ms apart, the value cut at each place: the pipe hands them over as two chunks.
    const split = await omnisecret([
      "run",
      id,
      ...node(
        "const v = process.env.S; let k = 1; const next = () => { if (k === v.length) return; process.stdout.write('<' + v.slice(0, k)); setTimeout(() => { process.stdout.write(v.slice(k) + '>'); k += 1; setTimeout(next, 2); }, 2); }; next();",
      ),
    ]);
    expect(split.code).toBe(EXIT_OK);
    expect(split.stdout).toBe(`<${MASK}>`.repeat(secret.length - 1));
    // --no-masking: the command writes to the CLI's own stdout, untouched.
    const unmasked = await omnisecret(["run", id, "--no-masking", ...node("process.stdout.write(process.env.S)")]);
    expect(unmasked).toMatchObject({ code: EXIT_OK, stdout: secret });
  });

  it("refuses a malformed reference (exit 2, naming the variable or the file and line) before the command starts", async () => {
    const marker = join(directory, `never-${randomUUID()}`);
    const touch = node(`require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran")`);
    const fromEnv = await omnisecret(["run", ...touch], { DB_URL: "omnisecret://not-a-uuid/key" });
    expect(fromEnv.code).toBe(EXIT_BAD_INPUT);
    expect(fromEnv.stderr).toContain("variable DB_URL: invalid reference");
    const envFile = join(directory, `bad-${randomUUID()}.env`);
    writeFileSync(envFile, `A=1\n\nB=omnisecret://${randomUUID()}/a%zz\n`);
    const fromFile = await omnisecret(["run", "--env-file", envFile, ...touch]);
    expect(fromFile.code).toBe(EXIT_BAD_INPUT);
    expect(fromFile.stderr).toContain(`--env-file ${envFile}, line 3 (B): invalid reference`);
    const missingKey = await omnisecret(["run", ...touch], { X: `omnisecret://${randomUUID()}/k` });
    expect(missingKey.code).toBe(EXIT_NOT_FOUND);
    expect(missingKey.stderr).toContain("E_SECRET_NOT_FOUND: reference omnisecret://");
    expect(existsSync(marker)).toBe(false);
  });

  it("--watch restarts the command with the new value after an update from another process, and ends with its exit code", async () => {
    const id = randomUUID();
    const [before, after] = [`before-${randomUUID()}`, `after-${randomUUID()}`];
    await omnisecret(["store", id, `V=${before}`]);
    // Prints its value (masked) and which one it got; with the new one, exits 5 by itself.
    const script =
      "const v = process.env.V; console.log('value ' + v + ' ' + (v.startsWith('after') ? 'NEW' : 'OLD')); process.on('SIGTERM', () => { console.log('stopping'); process.exit(0); }); if (v.startsWith('after')) setTimeout(() => process.exit(5), 50); else setInterval(() => {}, 1000);";
    const child = spawn(process.execPath, [bin, "run", "--watch", "0.2", id, ...node(script)], { env });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes("OLD")) resolve();
      });
    });
    expect((await omnisecret(["update", id, `V=${after}`])).code).toBe(EXIT_OK);
    expect(await exited).toBe(5);
    expect(stdout).toBe(`value ${MASK} OLD\nstopping\nvalue ${MASK} NEW\n`);
    expect(stderr).toBe("");
  });
});

/** Resolves once `read()` includes `marker`, checking on every chunk of `stream`. */
function waitFor(stream: NodeJS.ReadableStream, read: () => string, marker: string): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (read().includes(marker)) {
        stream.off("data", check);
        resolve();
      }
    };
    stream.on("data", check);
    check();
  });
}

describe("omnisecret run --watch (built CLI)", () => {
  it("kills a command that ignores SIGTERM after the grace period, and only warns when a secret is deleted", async () => {
    const id = randomUUID();
    await omnisecret(["store", id, `V=before-${randomUUID()}`]);
    const script =
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('value ' + process.env.V + ' ' + (process.env.V.startsWith('after') ? 'NEW' : 'OLD')); setInterval(() => {}, 1000);";
    const child = spawn(
      process.execPath,
      [bin, "run", "--watch", "0.2", "--grace-period", "0.3", id, ...node(script)],
      {
        env,
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await waitFor(child.stdout, () => stdout, "OLD");
    expect((await omnisecret(["update", id, `V=after-${randomUUID()}`])).code).toBe(EXIT_OK);
    await waitFor(child.stdout, () => stdout, "NEW");
    expect((await omnisecret(["delete", id])).code).toBe(EXIT_OK);
    await waitFor(child.stderr, () => stderr, "E_SECRET_NOT_FOUND");
    // SIGINT reaches the command, which has no handler for it: run ends with 128 + 2.
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(stdout).toBe(`value ${MASK} OLD\nignoring SIGTERM\nvalue ${MASK} NEW\n`);
    expect(stderr.trimEnd().split("\n")).toEqual([
      expect.stringMatching(
        /^omnisecret: warning: --watch could not read the secrets \(E_SECRET_NOT_FOUND: .*the command keeps running/,
      ),
    ]);
  });
});

describe("omnisecret inject (built CLI)", () => {
  it("renders a template to stdout or to a 0600 file, strict on missing keys and bad references", async () => {
    const id = randomUUID();
    const secret = markedSecretValue();
    await omnisecret(["store", id, `password=${secret}`, "user=app"]);
    const template = join(directory, `config-${id}.tmpl`);
    writeFileSync(
      template,
      `user: {{omnisecret://${id}/user}}\npassword: "{{ omnisecret://${id}/password }}"\nkept: {{ other }}\n`,
    );
    const expected = `user: app\npassword: "${secret}"\nkept: {{ other }}\n`;
    expect(await omnisecret(["inject", "-i", template])).toMatchObject({ code: EXIT_OK, stdout: expected });
    const out = join(directory, `config-${id}.yaml`);
    expect((await omnisecret(["inject", "-i", template, "-o", out])).code).toBe(EXIT_OK);
    expect(readFileSync(out, "utf8")).toBe(expected);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    const missing = join(directory, `missing-${id}.tmpl`);
    writeFileSync(missing, `a: {{ omnisecret://${id}/user }}\nb: {{ omnisecret://${id}/nope }}\n`);
    const missingOut = join(directory, `missing-${id}.out`);
    const failed = await omnisecret(["inject", "-i", missing, "-o", missingOut]);
    expect(failed.code).toBe(EXIT_NOT_FOUND);
    expect(failed.stderr).toContain(`omnisecret://${id}/nope`);
    expect(existsSync(missingOut)).toBe(false);
    expect(readdirSync(directory).filter((name) => name.endsWith(".tmp"))).toEqual([]);

    const bad = join(directory, `bad-${id}.tmpl`);
    writeFileSync(bad, `ok\n\nx: {{ omnisecret://${id} }}\n`);
    const badResult = await omnisecret(["inject", "-i", bad]);
    expect(badResult.code).toBe(EXIT_BAD_INPUT);
    expect(badResult.stderr).toContain(`template ${bad}, line 3: invalid reference`);

    const binary = join(directory, `binary-${id}.tmpl`);
    writeFileSync(binary, Buffer.from([0x61, 0xff, 0xfe, 0x0a]));
    expect((await omnisecret(["inject", "-i", binary])).code).toBe(EXIT_BAD_INPUT);
  });

  it("refuses to write over the template itself, by path or through a link", async () => {
    const id = randomUUID();
    await omnisecret(["store", id, "k=value-1234"]);
    const template = join(directory, `self-${id}.tmpl`);
    const text = `{{ omnisecret://${id}/k }}\n`;
    writeFileSync(template, text);
    const link = join(directory, `self-link-${id}.tmpl`);
    symlinkSync(template, link);
    for (const out of [template, join(directory, ".", `self-${id}.tmpl`), link]) {
      const result = await omnisecret(["inject", "-i", template, "-o", out]);
      expect(result.code, out).toBe(EXIT_BAD_INPUT);
      expect(result.stderr).toContain("refusing to write the output over the template");
    }
    expect(readFileSync(template, "utf8")).toBe(text);
  });
});
