/**
 * The values the model suites write (`model.ts`, `versions-model.ts`): random maps with keys and
 * values that break naive quoting, escaping, prototype handling or byte counting, some padded to
 * exactly an adapter's `maxValueBytes` or one byte over it; and a canonical text to compare maps.
 */
import fc from "fast-check";
import type { SecretValues } from "../contract.js";

/** Keys that break naive quoting, escaping, prototype handling or byte counting. */
const TRICKY_KEYS = [
  '"',
  "\\",
  "\n",
  'say "hi"',
  "back\\slash",
  "line\r\nbreak",
  "__proto__",
  "constructor",
  "key with spaces",
  "{}",
  "🔐",
  "ключ",
  "鍵",
  "\u0000",
  "𝔘𝔫𝔦",
] as const;
const TRICKY_VALUES = [
  "",
  '"',
  "\\",
  "\\u0041 not an escape",
  "line one\nline two",
  '{"nested":"json"}',
  "😀👩‍👩‍👧",
  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  "nul\u0000bell\u0007",
  "مرحبا",
] as const;
/** Strings that are not well-formed UTF-16: refused up front with E_INVALID_SECRET_VALUES. */
const LONE_SURROGATES = ["\uD800", "a\uDC00b", "\uDFFF\uD83D"] as const;

const keyArbitrary = fc.oneof(
  { arbitrary: fc.constantFrom(...TRICKY_KEYS), weight: 2 },
  { arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 6 }), weight: 2 },
  { arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 6 }), weight: 1 },
);
const valueArbitrary = fc.oneof(
  { arbitrary: fc.constantFrom(...TRICKY_VALUES), weight: 12 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 12 }), weight: 12 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }), weight: 8 },
  // Rare: the facade refuses them before the adapter, so most writes should reach it.
  { arbitrary: fc.constantFrom(...LONE_SURROGATES), weight: 1 },
);

/**
 * The values of one write: random entries, and whether they are padded to exactly the adapter's
 * `maxValueBytes` or one byte over it. The padding is built when the write runs, since the
 * limit is known only then, and kept out of reports, which show its size instead.
 */
export interface ValuesSpec {
  readonly entries: ReadonlyArray<readonly [string, string]>;
  readonly size: "free" | "limit" | "over";
}

export const valuesSpecArbitrary: fc.Arbitrary<ValuesSpec> = fc.record({
  entries: fc.oneof(
    { arbitrary: fc.constant([]), weight: 1 },
    {
      arbitrary: fc.uniqueArray(fc.tuple(keyArbitrary, valueArbitrary), { selector: ([key]) => key, maxLength: 4 }),
      weight: 6,
    },
  ),
  size: fc.oneof(
    { arbitrary: fc.constant("free" as const), weight: 8 },
    { arbitrary: fc.constant("limit" as const), weight: 1 },
    { arbitrary: fc.constant("over" as const), weight: 1 },
  ),
});

const builtValues = new WeakMap<ValuesSpec, { maxValueBytes: number; values: SecretValues }>();

/** The values of a spec, built once per spec (padded ones are large, and the search asks often). */
export function valuesOf(spec: ValuesSpec, maxValueBytes: number): SecretValues {
  const built = builtValues.get(spec);
  if (built?.maxValueBytes === maxValueBytes) return built.values;
  const values = buildValues(spec, maxValueBytes);
  builtValues.set(spec, { maxValueBytes, values });
  return values;
}

/** Object.fromEntries keeps "__proto__" an own key. */
function buildValues(spec: ValuesSpec, maxValueBytes: number): SecretValues {
  if (spec.size === "free") return Object.fromEntries(spec.entries);
  const target = spec.size === "limit" ? maxValueBytes : maxValueBytes + 1;
  let padKey = "pad";
  while (spec.entries.some(([key]) => key === padKey)) padKey += "_";
  const base = Buffer.byteLength(JSON.stringify(Object.fromEntries([...spec.entries, [padKey, ""]])), "utf8");
  let remaining = target - base;
  if (remaining < 0) throw new RangeError(`cannot pad values to ${target} bytes`);
  // Four-, two- and one-byte characters, so byte and UTF-16 counts differ.
  const astral = Math.floor(remaining / 12);
  remaining -= 4 * astral;
  const twoByte = Math.floor(remaining / 4);
  remaining -= 2 * twoByte;
  const padding = "😀".repeat(astral) + "é".repeat(twoByte) + "a".repeat(remaining);
  return Object.fromEntries([...spec.entries, [padKey, padding]]);
}

export function describeSpec(spec: ValuesSpec): string {
  const shown = JSON.stringify(Object.fromEntries(spec.entries));
  if (spec.size === "limit") return `${shown} padded to maxValueBytes`;
  if (spec.size === "over") return `${shown} padded to maxValueBytes + 1`;
  return shown;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function hasLoneSurrogate(spec: ValuesSpec): boolean {
  return spec.entries.some(([key, value]) => LONE_SURROGATE.test(key) || LONE_SURROGATE.test(value));
}

/** A canonical text of values: own enumerable entries sorted by key; anything not a string map is marked. */
export function canonical(values: unknown): string {
  if (values === undefined) return "(missing)";
  if (values === null || typeof values !== "object" || Object.getPrototypeOf(values) !== Object.prototype) {
    return `(not a plain object: ${String(values)})`;
  }
  let text = canonicalTexts.get(values);
  if (text === undefined) {
    const entries = Object.entries(values as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    text = JSON.stringify(entries);
    canonicalTexts.set(values, text);
  }
  return text;
}

// Nothing here changes a values object once built or read, so its canonical text is computed once.
const canonicalTexts = new WeakMap<object, string>();
