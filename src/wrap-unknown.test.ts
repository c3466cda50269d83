import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { isSecretStoreError, SecretStoreError } from "./errors.js";
import { redactValues, wrapUnknown } from "./wrap-unknown.js";

const PEM =
  "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n";
const VALUES = {
  pem: PEM,
  quoted: 'pass"word"-with-quotes',
  backslash: "C:\\secrets\\pass\\word",
  plain: "plain-secret-value-1234",
};

/** Every form a value can take in a message: raw, JSON-escaped, and inspect's escapings. */
function formsOf(value: string): string[] {
  return [value, JSON.stringify(value).slice(1, -1), inspect(value).slice(1, -1)];
}

/** Texts from an error that a log line, a stack trace or util.inspect would print. */
function textsOf(error: unknown): string[] {
  const texts = [inspect(error, { depth: 10 })];
  for (let cause = error, depth = 0; cause instanceof Error && depth < 10; cause = cause.cause, depth += 1) {
    texts.push(cause.message, cause.stack ?? "");
  }
  return texts;
}

function expectNoValue(texts: string[], values: Record<string, string>): void {
  for (const text of texts) {
    for (const [key, value] of Object.entries(values)) {
      for (const form of formsOf(value)) expect(text, `${key} in ${JSON.stringify(form)}`).not.toContain(form);
    }
  }
}

describe("redactValues covers a value's raw, JSON-escaped and inspect-quoted forms", () => {
  it("cuts out a value quoted in serialized JSON", () => {
    const text = `backend rejected payload ${JSON.stringify(VALUES)}`;
    const redacted = redactValues(text, VALUES);
    expectNoValue([redacted], VALUES);
    expect(redacted).toContain("backend rejected payload");
    expect(redacted).toContain('"pem":"[redacted]"');
  });

  it("cuts out a value as util.inspect quotes it, in each quote style", () => {
    const nul = "the-value\x00x";
    const text = `The property 'options.env['K']' must be a string without null bytes. Received ${inspect(nul)}`;
    expect(redactValues(text, { K: nul })).not.toContain("the-value");
    for (const value of [`it's "a" value`, `it's a value`, 'a "b" value\n', "a\tb\\c\x7f\x1bd"]) {
      for (const wrapper of [
        (v: string) => inspect(v),
        (v: string) => inspect(`'"${v}`),
        (v: string) => inspect(`'${v}`),
      ]) {
        const text = `got ${wrapper(value)}`;
        expect(redactValues(text, { value }), text).not.toContain(inspect(value).slice(2, -2));
      }
    }
  });

  it("leaves short values and other text alone", () => {
    expect(redactValues("a b c: abc", { k: "abc" })).toBe("a b c: abc");
    expect(redactValues("nothing here", VALUES)).toBe("nothing here");
  });
});

describe("wrapUnknown keeps every form of the call's values out of the error", () => {
  it("an adapter error quoting the serialized JSON: message, stack, inspect and causes", () => {
    const inner = new Error(`backend rejected payload ${JSON.stringify(VALUES)}`);
    const thrown = new Error(`could not store ${JSON.stringify(VALUES)}`, { cause: inner });
    const error = wrapUnknown(thrown, "custom", "store", "id-1", VALUES);
    expect(error.code).toBe("E_UNKNOWN");
    expectNoValue(textsOf(error), VALUES);
  });
});

describe("wrapUnknown turns a parse error of stored data into E_SECRET_INTEGRITY", () => {
  it("keeps none of the parser's text", () => {
    const stored = `{"pw":"hunter2-stored-value", broken`;
    let parseError: unknown;
    try {
      JSON.parse(stored);
    } catch (error) {
      parseError = error;
    }
    const error = wrapUnknown(parseError, "custom", "get", "id-2");
    expect(isSecretStoreError(error) && error.code).toBe("E_SECRET_INTEGRITY");
    expect(error.message).toContain("id-2");
    expect(error.message).toContain("could not be parsed");
    for (const text of textsOf(error)) {
      expect(text).not.toContain("hunter2");
      expect(text).not.toContain("Unexpected");
      expect(text).not.toContain("JSON at position");
    }
  });
});

describe("redactValues on a map that was not validated", () => {
  it("skips what is not a string", () => {
    const values = { n: 12345, s: "a-long-secret" } as unknown as Record<string, string>;
    expect(redactValues("12345 a-long-secret", values)).toBe("12345 [redacted]");
  });
});

describe("wrapUnknown on a typed error that quotes the call's values", () => {
  it("cuts them out of its message, stack and causes, and keeps the error and its code", () => {
    const thrown = new SecretStoreError("E_PERMISSION_DENIED", `denied: ${JSON.stringify(VALUES)}`, {
      cause: new Error(`payload ${JSON.stringify(VALUES)}`),
    });
    const error = wrapUnknown(thrown, "custom", "store", "id-3", VALUES);
    expect(error).toBe(thrown);
    expect(error.code).toBe("E_PERMISSION_DENIED");
    expect(error.message).toContain("denied: ");
    expectNoValue(textsOf(error), VALUES);
  });

  it("leaves a typed error without values as it was, its cause included", () => {
    const cause = new Error("socket hang up");
    const thrown = new SecretStoreError("E_PROVIDER_UNAVAILABLE", "unavailable", { cause });
    const error = wrapUnknown(thrown, "custom", "store", "id-4", VALUES);
    expect(error).toBe(thrown);
    expect(error.cause).toBe(cause);
    expect(error.message).toBe("unavailable");
  });
});
