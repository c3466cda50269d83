import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { markedSecretValue } from "../testing/index.js";
import { EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK } from "./program.js";
import { cliRunner } from "./run-cli.test-helper.js";

const root = join(import.meta.dirname, "..", "..");
const directory = mkdtempSync(join(tmpdir(), "omnisecret-cli-"));
const localEnv = { OMNISECRET_LOCAL_PATH: join(directory, "cli.db") };

const cli = cliRunner(localEnv);

describe("omnisecret CLI", () => {
  it("stores, reads, updates, lists and deletes a secret", async () => {
    const id = randomUUID();
    expect(await cli(["store", id, "user=admin", "password=a=b c"])).toMatchObject({ code: EXIT_OK, stderr: "" });
    const got = await cli(["get", id]);
    expect(JSON.parse(got.stdout)).toEqual({ user: "admin", password: "a=b c" });
    expect((await cli(["get", id, "--key", "password"])).stdout).toBe("a=b c");
    expect((await cli(["update", id, "token=t"])).code).toBe(EXIT_OK);
    expect(JSON.parse((await cli(["get", id])).stdout)).toEqual({ token: "t" });
    expect((await cli(["list"])).stdout.split("\n")).toContain(id);
    expect((await cli(["delete", id])).code).toBe(EXIT_OK);
    expect((await cli(["get", id])).code).toBe(EXIT_NOT_FOUND);
  });

  it("reads values from a JSON file or standard input", async () => {
    const id = randomUUID();
    const file = join(directory, "values.json");
    writeFileSync(file, JSON.stringify({ from: "file" }));
    expect((await cli(["store", id, "--from-json", file])).code).toBe(EXIT_OK);
    expect((await cli(["update", id, "--from-json", "-"], { stdin: '{"from":"stdin"}' })).code).toBe(EXIT_OK);
    expect(JSON.parse((await cli(["get", id])).stdout)).toEqual({ from: "stdin" });
  });

  it("refuses JSON that is not an object, and leaves the secret as it was", async () => {
    const id = randomUUID();
    expect((await cli(["store", id, "kept=yes"])).code).toBe(EXIT_OK);
    for (const stdin of ['["oops"]', "null", "42", '"a string"', "true"]) {
      const result = await cli(["update", id, "--from-json", "-"], { stdin });
      expect(result.code, stdin).toBe(EXIT_BAD_INPUT);
      expect(result.stderr).toContain("must hold a JSON object");
      expect((await cli(["store", randomUUID(), "--from-json", "-"], { stdin })).code, stdin).toBe(EXIT_BAD_INPUT);
    }
    expect(JSON.parse((await cli(["get", id])).stdout)).toEqual({ kept: "yes" });
  });

  it("selects the provider and config from flags over the environment", async () => {
    const config = join(directory, "memory.json");
    writeFileSync(config, JSON.stringify({ provider: "memory" }));
    // A fresh in-memory store per invocation: the secret stored in the local store is not there.
    const id = randomUUID();
    await cli(["store", id, "a=b"]);
    expect((await cli(["--config", config, "get", id])).code).toBe(EXIT_NOT_FOUND);
    expect((await cli(["--provider", "memory", "get", id])).code).toBe(EXIT_NOT_FOUND);
    expect((await cli(["--provider", "local", "--config", config, "get", id])).code).toBe(EXIT_OK);
  });

  it("maps failures to exit codes 1, 2 and 3", async () => {
    const id = randomUUID();
    expect((await cli(["get", id])).code).toBe(EXIT_NOT_FOUND);
    expect((await cli(["get", "not-a-uuid"])).code).toBe(EXIT_BAD_INPUT);
    expect((await cli(["store", id])).code).toBe(EXIT_BAD_INPUT);
    expect((await cli(["frobnicate"])).code).toBe(EXIT_BAD_INPUT);
    expect((await cli(["--provider", "nope", "list"])).code).toBe(EXIT_BAD_INPUT);
    await cli(["store", id, "a=b"]);
    expect((await cli(["store", id, "a=b"])).code).toBe(EXIT_BAD_INPUT);
    expect((await cli(["get", id, "--key", "absent"])).code).toBe(EXIT_NOT_FOUND);
    const leaky = { OMNISECRET_PROVIDER: "custom", OMNISECRET_CUSTOM_MODULE: "./test-support/leaky-adapter.mjs" };
    expect((await cli(["get", id], { env: leaky })).code).toBe(EXIT_FAILURE);
    expect((await cli(["--help"])).code).toBe(EXIT_OK);
  });

  it("prints one line without a stack, and the cause chain only with --verbose", async () => {
    const env = { OMNISECRET_PROVIDER: "custom", OMNISECRET_CUSTOM_MODULE: "./test-support/leaky-adapter.mjs" };
    const plain = await cli(["get", randomUUID()], { env });
    expect(plain.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const verbose = await cli(["--verbose", "get", randomUUID()], { env });
    expect(verbose.stderr).toContain("caused by Error: request for");
    expect(verbose.stderr).not.toMatch(/\n\s+at /);
  });

  it("never prints a value on any error path", async () => {
    const secret = markedSecretValue();
    const id = randomUUID();
    await cli(["store", id, `password=${secret}`]);
    const tooLarge = join(directory, "large.json");
    writeFileSync(tooLarge, JSON.stringify({ password: secret, pad: "x".repeat(70_000) }));
    const notStrings = join(directory, "numbers.json");
    writeFileSync(notStrings, JSON.stringify({ password: secret, n: 1 }));
    const brokenJson = join(directory, "broken.json");
    writeFileSync(brokenJson, `{"password": "${secret}"`);
    const leaky = { OMNISECRET_PROVIDER: "custom", OMNISECRET_CUSTOM_MODULE: "./test-support/leaky-adapter.mjs" };

    const attempts: [string[], { env?: NodeJS.ProcessEnv; stdin?: string }?][] = [
      [["store", id, `password=${secret}`]],
      [["update", randomUUID(), `password=${secret}`]],
      [["store", secret, `password=${secret}`]],
      [["get", secret]],
      [["store", randomUUID(), secret]],
      [["store", randomUUID(), "--from-json", tooLarge]],
      [["store", randomUUID(), "--from-json", notStrings]],
      [["store", randomUUID(), "--from-json", brokenJson]],
      [["store", randomUUID(), "--from-json", "-"], { stdin: `{"password": ${secret}}` }],
      [["--verbose", "store", randomUUID(), `password=${secret}`], { env: leaky }],
      [["--verbose", "update", randomUUID(), "--from-json", "-"], { env: leaky, stdin: JSON.stringify({ p: secret }) }],
      [["--provider", secret, "list"]],
      [["--verbose", "--config", brokenJson, "list"]],
    ];
    for (const [args, options] of attempts) {
      const result = await cli(args, options);
      expect(result.code, args.join(" ")).not.toBe(EXIT_OK);
      expect(result.stderr.length).toBeGreaterThan(0);
      expect(result.stderr, args.join(" ")).not.toContain(secret);
      expect(result.stdout).not.toContain(secret);
    }
  });

  it("runs as the installed binary with the documented exit codes", async () => {
    const bin = join(root, "dist", "src", "cli", "main.js");
    const env = { ...process.env, ...localEnv };
    const id = randomUUID();
    await promisify(execFile)(process.execPath, [bin, "store", id, "k=v"], { env });
    const { stdout } = await promisify(execFile)(process.execPath, [bin, "get", id, "-k", "k"], { env });
    expect(stdout).toBe("v");
    const missing = await promisify(execFile)(process.execPath, [bin, "get", randomUUID()], { env }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(missing).toMatchObject({ code: EXIT_NOT_FOUND });
    expect((missing as { stderr: string }).stderr).toMatch(
      /^omnisecret: E_SECRET_NOT_FOUND: secret [0-9a-f-]+ was not found/,
    );
  });
});
