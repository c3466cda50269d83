/** The CLI's version verbs (issue 23): `get --version`, `versions` and `rollback`. */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SecretVersion } from "../contract.js";
import { EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, runCli } from "./program.js";
import { cliRunner } from "./run-cli.test-helper.js";
import { versionsTable } from "./verbs/versions.js";

// A memory store keeping 2 versions, shared by the invocations (see versioned-memory.test-helper.ts).
const env = {
  OMNISECRET_PROVIDER: "custom",
  OMNISECRET_CUSTOM_MODULE: join(import.meta.dirname, "versioned-memory.test-helper.ts"),
};
const cli = cliRunner(env);

/** A run with stdout on a terminal. */
async function onTerminal(args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = "";
  const code = await runCli(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: () => undefined,
    readStdin: async () => "",
    env,
    stdoutIsTty: true,
  });
  return { code, stdout };
}

type ListedVersion = Omit<SecretVersion, "createdAt"> & { createdAt: string };

async function versionsOf(id: string): Promise<ListedVersion[]> {
  const listed = await cli(["versions", id, "--json"]);
  expect(listed.code, listed.stderr).toBe(EXIT_OK);
  return JSON.parse(listed.stdout) as ListedVersion[];
}

describe("omnisecret get --version, versions, rollback", () => {
  it("store A, update B, update C: latest C, previous B, A pruned; rollback: latest B, previous C", async () => {
    const id = randomUUID();
    expect((await cli(["store", id, "v=A"])).code).toBe(EXIT_OK);
    const [a] = await versionsOf(id);
    expect((await cli(["update", id, "v=B"])).code).toBe(EXIT_OK);
    expect((await cli(["update", id, "v=C"])).code).toBe(EXIT_OK);

    expect(JSON.parse((await cli(["get", id])).stdout)).toEqual({ v: "C" });
    expect(JSON.parse((await cli(["get", id, "--version", "latest"])).stdout)).toEqual({ v: "C" });
    expect(JSON.parse((await cli(["get", id, "--version", "previous"])).stdout)).toEqual({ v: "B" });
    expect((await cli(["get", id, "--version", "previous", "--key", "v"])).stdout).toBe("B");
    const pruned = await cli(["get", id, "--version", a?.token as string]);
    expect(pruned.code).toBe(EXIT_NOT_FOUND);
    expect(pruned.stderr).toMatch(/^omnisecret: E_SECRET_NOT_FOUND: version .* was pruned/);

    const versions = await versionsOf(id);
    expect(versions.map((version) => version.current)).toEqual([true, false]);
    expect(versions.every((version) => version.readable)).toBe(true);
    expect(new Date(versions[0]?.createdAt as string).getTime()).not.toBeNaN();
    expect(JSON.parse((await cli(["get", id, "--version", versions[1]?.token as string])).stdout)).toEqual({ v: "B" });

    const rollback = await cli(["rollback", id]);
    expect(rollback).toMatchObject({ code: EXIT_OK, stdout: "", stderr: "" });
    expect(JSON.parse((await cli(["get", id])).stdout)).toEqual({ v: "B" });
    expect(JSON.parse((await cli(["get", id, "--version", "previous"])).stdout)).toEqual({ v: "C" });
  });

  it("versions prints a table on a terminal and JSON in a pipe or with --json", async () => {
    const id = randomUUID();
    await cli(["store", id, "v=1"]);
    await cli(["update", id, "v=2"]);
    const json = await versionsOf(id);
    const piped = await cli(["versions", id]);
    expect(JSON.parse(piped.stdout)).toEqual(json);
    const table = await onTerminal(["versions", id]);
    expect(table.code).toBe(EXIT_OK);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^TOKEN +CREATED +CURRENT +READABLE$/);
    expect(lines[1]).toMatch(new RegExp(`^${json[0]?.token.replace(".", "\\.")} +${json[0]?.createdAt} +yes +yes$`));
    expect(lines[2]).toMatch(new RegExp(`^${json[1]?.token.replace(".", "\\.")} +${json[1]?.createdAt} +yes$`));
    expect(JSON.parse((await onTerminal(["versions", id, "--json"])).stdout)).toEqual(json);
  });

  it("lays a table out in padded columns", () => {
    const createdAt = new Date("2026-01-02T03:04:05.000Z");
    expect(
      versionsTable([
        { token: "abc.10", createdAt, current: true, readable: true },
        { token: "abc.9", createdAt, current: false, readable: false },
      ]),
    ).toBe(
      [
        "TOKEN   CREATED                   CURRENT  READABLE",
        "abc.10  2026-01-02T03:04:05.000Z  yes      yes",
        "abc.9   2026-01-02T03:04:05.000Z           no",
        "",
      ].join("\n"),
    );
  });

  it("maps failures to exit codes: a bad token 2, a missing secret or version 1, no versions 3", async () => {
    const id = randomUUID();
    const garbage = await cli(["get", id, "--version", "not a token"]);
    expect(garbage).toMatchObject({ code: EXIT_BAD_INPUT, stdout: "" });
    expect(garbage.stderr).toMatch(/^omnisecret: E_INVALID_VERSION: /);
    expect((await cli(["get", id, "--version", "previous"])).code).toBe(EXIT_NOT_FOUND);
    expect((await cli(["versions", id])).code).toBe(EXIT_NOT_FOUND);
    expect((await cli(["rollback", id])).code).toBe(EXIT_NOT_FOUND);
    await cli(["store", id, "v=only"]);
    const noPrevious = await cli(["rollback", id]);
    expect(noPrevious.code).toBe(EXIT_NOT_FOUND);
    expect(noPrevious.stderr).toContain("no previous version");
    expect((await cli(["get", id, randomUUID(), "--version", "previous"])).code).toBe(EXIT_BAD_INPUT);
    expect((await cli(["versions", "not-a-uuid"])).code).toBe(EXIT_BAD_INPUT);

    // A store that keeps no versions (the example adapter, of the earlier contract): E_NOT_SUPPORTED, naming the provider.
    const unversioned = {
      OMNISECRET_PROVIDER: "custom",
      OMNISECRET_CUSTOM_MODULE: join(import.meta.dirname, "..", "..", "examples", "directory-adapter.mjs"),
      OMNISECRET_CUSTOM_OPTIONS: JSON.stringify({ directory: mkdtempSync(join(tmpdir(), "omnisecret-versions-")) }),
    };
    for (const args of [
      ["get", id, "--version", "previous"],
      ["versions", id],
      ["rollback", id],
    ]) {
      const unsupported = await cli(args, { env: unversioned });
      expect(unsupported.code, args.join(" ")).toBe(EXIT_FAILURE);
      expect(unsupported.stderr).toMatch(/^omnisecret: E_NOT_SUPPORTED: .*versions.*\(provider directory\)/);
    }
  });
});
