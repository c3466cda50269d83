import { describe, expect, it } from "vitest";
import { DotenvError, formatDotenv, parseDotenv } from "./dotenv.js";
import { TRICKY_VALUES } from "./tricky-values.test-helper.js";

describe("dotenv", () => {
  it("writes tricky values so that dotenv reads them back the same", () => {
    const text = formatDotenv(TRICKY_VALUES);
    expect(parseDotenv(text)).toEqual(TRICKY_VALUES);
  });

  it("reads what people write: comments, export, quotes, multi-line values", () => {
    const text = [
      "# a comment",
      "export A=plain # trailing comment",
      "B='single # kept'",
      'C="double\\nline"',
      "D=`multi",
      "line`",
      "",
    ].join("\n");
    expect(parseDotenv(text)).toEqual({ A: "plain", B: "single # kept", C: "double\nline", D: "multi\nline" });
  });

  it("refuses what it cannot write faithfully, naming the key and never the value", () => {
    expect(() => formatDotenv({ "bad key": "x" })).toThrow(DotenvError);
    const impossible = "a'b`c\"d\\n\r";
    expect(() => formatDotenv({ K: impossible })).toThrow(/key "K"/);
    try {
      formatDotenv({ K: impossible });
    } catch (error) {
      expect((error as Error).message).not.toContain(impossible);
    }
  });
});
