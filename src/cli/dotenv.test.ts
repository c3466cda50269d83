import { parse as dotenvParse } from "dotenv";
import { describe, expect, it } from "vitest";
import { DotenvError, formatDotenv, formatShell, parseDotenv } from "./dotenv.js";
import { SHELL_TRICKY } from "./tricky-values.test-helper.js";

/** The DotenvError `work` throws (fails the test if it throws nothing or something else). */
function dotenvErrorOf(work: () => unknown): DotenvError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(DotenvError);
    return error as DotenvError;
  }
  throw new Error("expected a DotenvError");
}

describe("dotenv", () => {
  it("writes as dotenv exactly the values without ' or CR, which dotenv and the strict reader read back", () => {
    const writable = Object.fromEntries(Object.entries(SHELL_TRICKY).filter(([, value]) => !/['\r]/.test(value)));
    expect(Object.keys(writable).length).toBeGreaterThan(20);
    const text = formatDotenv(writable);
    expect(text.split("\n")[0]).toBe(`${Object.keys(writable)[0]}='${Object.values(writable)[0]}'`);
    expect(dotenvParse(text)).toEqual(writable);
    expect(parseDotenv(text)).toEqual(writable);
    for (const [key, value] of Object.entries(SHELL_TRICKY).filter(([name]) => !(name in writable))) {
      const error = dotenvErrorOf(() => formatDotenv({ [key]: value }));
      expect(error.message).toContain(`key ${JSON.stringify(key)}`);
      expect(error.message).toContain("--format shell");
    }
  });

  it("writes shell export lines with '\\'' for a quote; refuses a key that is no environment name", () => {
    expect(formatShell({ A: "it's", B: "", C: "$(x)\n`y`" })).toBe(
      "export A='it'\\''s'\nexport B=''\nexport C='$(x)\n`y`'\n",
    );
    expect(dotenvErrorOf(() => formatShell({ "a-b": "v" })).message).toContain('key "a-b"');
    expect(dotenvErrorOf(() => formatDotenv({ "a.b": "v" })).message).toContain('key "a.b"');
    expect(dotenvErrorOf(() => formatShell({ K: "a\ud800b" })).message).toContain("lone surrogate");
  });

  it("reads what people write: comments, export, quotes, multi-line values, CRLF, a byte order mark", () => {
    const text = [
      "\uFEFFexport A=plain",
      "# a comment",
      "B='single # kept' # trailing comment",
      'C="double\\nline"',
      "D='multi",
      "line'",
      "E=",
      "F = spaced out ",
      "",
    ].join("\r\n");
    expect(parseDotenv(text)).toEqual({
      A: "plain",
      B: "single # kept",
      C: "double\nline",
      D: "multi\nline",
      E: "",
      F: "spaced out",
    });
  });

  it("refuses a line it cannot read exactly, with its line number and never its text", () => {
    const secret = "s3cr3t-value";
    const cases: [string, string][] = [
      [`PW=${secret}#x`, "line 4"],
      [`PW=${secret} # comment`, "line 4"],
      [`DB PASSWORD=${secret}`, "line 4"],
      [`ÜBER=${secret}`, "line 4"],
      [`export ${secret}`, "line 4"],
      [`PW="${secret}" trailing`, "line 4"],
      [`PW=\`${secret}\``, "line 4"],
      [`PW='${secret}\\' # x'`, "line 4"],
      [`PW=${secret}\u00a0`, "line 4"],
      [`__proto__=${secret}`, "line 4"],
      [`A=${secret}`, "lines 1 and 4"],
    ];
    for (const [line, where] of cases) {
      const text = `A=1\nM="two\nlines"\n${line}\nZ=2\n`;
      const error = dotenvErrorOf(() => parseDotenv(text, "--from-dotenv f.env"));
      expect(error.message, line).toContain(where);
      expect(error.message, line).toMatch(/^--from-dotenv f\.env/);
      expect(error.message, line).not.toContain(secret);
    }
  });

  it("refuses what it cannot write faithfully, naming the key and never the value", () => {
    expect(() => formatDotenv({ "bad key": "x" })).toThrow(DotenvError);
    const impossible = "a'b`c\"d\\n\r";
    expect(() => formatDotenv({ K: impossible })).toThrow(/key "K"/);
    expect(dotenvErrorOf(() => formatDotenv({ K: impossible })).message).not.toContain(impossible);
  });
});
