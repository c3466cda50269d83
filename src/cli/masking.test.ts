import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MASK, Masker, MIN_MASKED_LENGTH, maskPatterns } from "./masking.js";

/** Masks `input` cut at `cuts` (byte offsets), joined. */
function maskInChunks(patterns: Buffer[], input: Buffer, cuts: number[]): string {
  const masker = new Masker(patterns);
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(...masker.push(input.subarray(from, cut)));
    from = cut;
  }
  out.push(...masker.push(input.subarray(from)), ...masker.end());
  return Buffer.concat(out).toString("utf8");
}

/** The oracle: one regex alternation of the patterns, longest first, over the whole text (bytes as latin1). */
function maskAtOnce(patterns: Buffer[], input: Buffer): string {
  if (patterns.length === 0) return input.toString("utf8");
  const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const sorted = [...patterns].sort((a, b) => b.length - a.length).map((p) => escapeRegExp(p.toString("latin1")));
  const masked = input.toString("latin1").replace(new RegExp(sorted.join("|"), "g"), MASK);
  return Buffer.from(masked, "latin1").toString("utf8");
}

describe("Masker", () => {
  it("masks the same whatever the chunking, as one regex over the whole text would", () => {
    // A small alphabet, so that values overlap, share prefixes and repeat in the text.
    const letters = fc.constantFrom("a", "b", "\n", '"', "é", "x");
    const word = fc.array(letters, { minLength: 1, maxLength: 8 }).map((parts) => parts.join(""));
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 4 }),
        fc.array(fc.oneof(word, fc.nat(3)), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (values, pieces, cutSeeds) => {
          const patterns = maskPatterns(values);
          const text = pieces
            .map((piece) => (typeof piece === "number" ? (values[piece % values.length] as string) : piece))
            .join("");
          const input = Buffer.from(text, "utf8");
          const cuts = cutSeeds.map((seed) => seed % (input.length + 1));
          expect(maskInChunks(patterns, input, cuts)).toBe(maskAtOnce(patterns, input));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("passes on at once whatever cannot be part of a value, and holds back only a possible prefix", () => {
    const masker = new Masker(maskPatterns(["s3cret-value"]));
    expect(Buffer.concat(masker.push(Buffer.from("hello s3cr"))).toString()).toBe("hello ");
    expect(Buffer.concat(masker.push(Buffer.from("et-valu"))).toString()).toBe("");
    expect(Buffer.concat(masker.push(Buffer.from("e done"))).toString()).toBe(`${MASK} done`);
    expect(Buffer.concat(masker.push(Buffer.from(" s3"))).toString()).toBe(" ");
    expect(Buffer.concat(masker.end()).toString()).toBe("s3");
  });

  it("masks the JSON-escaped form too, and leaves values under the minimum alone", () => {
    const value = 'line one\nsays "hi"';
    const patterns = maskPatterns([value, "abc"]);
    expect("abc".length).toBeLessThan(MIN_MASKED_LENGTH);
    const input = Buffer.from(`raw: ${value}; json: ${JSON.stringify({ value })}; short: abc`);
    expect(maskInChunks(patterns, input, [])).toBe(`raw: ${MASK}; json: {"value":"${MASK}"}; short: abc`);
  });
});
