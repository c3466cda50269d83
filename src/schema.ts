/**
 * The schema library the options schemas are written in: the part of zod 4's API they use
 * (`z.strictObject`, `z.string().regex(...)`, `.optional()`, `.default()`, `.refine()`, ...), with
 * the same results for valid configs (defaults filled in, URLs trimmed) and the same fields
 * named for invalid ones (`src/schema.test.ts` checks both against zod on every provider's
 * schema). It exists because loading zod costs a fresh process about 50-100 ms and 13 MiB (95
 * modules, 830 KB), more than the rest of omnisecret and most SDKs' first request together, and
 * every `SecretStore.create` validates its config; this file is one module of a few KB.
 *
 * Semantics kept from zod: a wrong type (or a missing field) is an issue that stops the checks
 * of that value; a failed check (`min`, `regex`, `url`, `refine`) does not, so the next
 * checks and the enclosing object's `superRefine` still run. A union takes its first option that
 * passes; else the issues of its only option that got past the type checks; else one issue.
 * Messages say what was expected and the type received, never a value: configs hold credentials.
 */

/** One problem found, at `path` (field names, array indexes) below the value checked. */
export interface Issue {
  readonly code:
    | "invalid_type"
    | "invalid_value"
    | "invalid_union"
    | "unrecognized_keys"
    | "too_small"
    | "too_big"
    | "invalid_format"
    | "custom";
  readonly path: readonly PropertyKey[];
  readonly message: string;
  /** For `unrecognized_keys`: the unknown keys. */
  readonly keys?: readonly string[];
}

/** What `safeParse` reports for an invalid value. */
export interface SchemaError {
  readonly issues: readonly Issue[];
}

export type SafeParseResult<T> = { success: true; data: T } | { success: false; error: SchemaError };

/** Given to a `superRefine` callback, to report problems of the value as a whole. */
export interface RefinementCtx {
  addIssue(issue: { code: "custom"; message: string; path?: PropertyKey[] }): void;
}

type Message = string | { message?: string } | undefined;

const messageOf = (params: Message, fallback: string): string =>
  (typeof params === "string" ? params : params?.message) ?? fallback;

/** An issue and whether it stops further checks of the value (a wrong type does; a failed check does not). */
interface Found extends Issue {
  readonly fatal: boolean;
}

/** The state of one parse: the issues found so far. */
class Run {
  readonly issues: Found[] = [];
  add(path: readonly PropertyKey[], issue: Omit<Issue, "path">, fatal: boolean): void {
    this.issues.push({ ...issue, path, fatal });
  }
  /** Whether an issue that stops the checks was found since `start`. */
  abortedSince(start: number): boolean {
    for (let index = start; index < this.issues.length; index += 1) if (this.issues[index]?.fatal) return true;
    return false;
  }
}

/** The type received, as an issue message may name it: never the value itself. */
function typeName(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "an array";
  if (typeof input === "number" && !Number.isFinite(input)) return String(input);
  return typeof input;
}

function typeIssue(run: Run, path: readonly PropertyKey[], input: unknown, expected: string, custom?: string): void {
  const message = custom ?? (input === undefined ? "is required" : `must be ${expected} (got ${typeName(input)})`);
  run.add(path, { code: "invalid_type", message }, true);
}

/**
 * A check after the type check: returns a replacement value, or undefined to keep it. A method
 * type, so that a `Schema<string>` is also a `Schema<unknown>` (method parameters are bivariant).
 */
interface Check<T> {
  apply(value: T, path: readonly PropertyKey[], run: Run): T | undefined;
}

export abstract class Schema<Output, Input = Output> {
  /** Types only, for `output<typeof schema>` and `input<typeof schema>`. */
  declare readonly _output: Output;
  declare readonly _input: Input;
  protected checks: readonly Check<Output>[] = [];

  /** Checks the type (adding a fatal issue when it is wrong) and returns the parsed value. */
  protected abstract parseType(input: unknown, path: readonly PropertyKey[], run: Run): Output;

  /** @internal Parses `input` at `path`, adding what is wrong to `run`. */
  _run(input: unknown, path: readonly PropertyKey[], run: Run): Output {
    const start = run.issues.length;
    let value = this.parseType(input, path, run);
    for (const check of this.checks) {
      if (run.abortedSince(start)) break;
      value = check.apply(value, path, run) ?? value;
    }
    return value;
  }

  safeParse(input: unknown): SafeParseResult<Output> {
    const run = new Run();
    const data = this._run(input, [], run);
    if (run.issues.length === 0) return { success: true, data };
    return { success: false, error: { issues: run.issues.map(({ fatal: _fatal, ...issue }) => issue) } };
  }

  parse(input: unknown): Output {
    const result = this.safeParse(input);
    if (result.success) return result.data;
    throw new Error(
      result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; "),
    );
  }

  /** Accepts `undefined` (an absent field) as well. */
  optional(): Schema<Output | undefined, Input | undefined> {
    return new OptionalSchema(this);
  }

  /** `value` in place of `undefined` (an absent field); a copy for objects and arrays. */
  default(value: Exclude<Output, undefined>): Schema<Exclude<Output, undefined>, Input | undefined> {
    return new DefaultSchema(this, value);
  }

  /** A check of the parsed value; `false` is an issue with `message` at this value. */
  refine(check: (value: Output) => boolean, params?: Message): this {
    const message = messageOf(params, "is invalid");
    return this.withCheck((value, path, run) => {
      if (!check(value)) run.add(path, { code: "custom", message }, false);
      return undefined;
    });
  }

  /** A check of the parsed value that reports its issues itself, with paths below this value. */
  superRefine(refinement: (value: Output, context: RefinementCtx) => void): this {
    return this.withCheck((value, path, run) => {
      refinement(value, {
        addIssue: (issue) =>
          run.add([...path, ...(issue.path ?? [])], { code: "custom", message: issue.message }, false),
      });
      return undefined;
    });
  }

  /** A copy of this schema with one more check: schemas are shared, so none is ever changed. */
  protected withCheck(check: Check<Output>["apply"]): this {
    const copy = Object.create(Object.getPrototypeOf(this) as object) as this;
    Object.assign(copy, this);
    copy.checks = [...this.checks, { apply: check }];
    return copy;
  }
}

export type output<T extends Schema<unknown, unknown>> = T["_output"];
export type input<T extends Schema<unknown, unknown>> = T["_input"];
/** Any schema whose output is `Output`. */
export type ZodType<Output = unknown> = Schema<Output, unknown>;

class OptionalSchema<Output, Input> extends Schema<Output | undefined, Input | undefined> {
  constructor(readonly inner: Schema<Output, Input>) {
    super();
  }
  protected parseType(input: unknown, path: readonly PropertyKey[], run: Run): Output | undefined {
    return input === undefined ? undefined : this.inner._run(input, path, run);
  }
}

class DefaultSchema<Output, Input> extends Schema<Exclude<Output, undefined>, Input | undefined> {
  constructor(
    readonly inner: Schema<Output, Input>,
    readonly fallback: Exclude<Output, undefined>,
  ) {
    super();
  }
  protected parseType(input: unknown, path: readonly PropertyKey[], run: Run): Exclude<Output, undefined> {
    if (input !== undefined) return this.inner._run(input, path, run) as Exclude<Output, undefined>;
    const fallback = this.fallback as unknown;
    if (Array.isArray(fallback)) return [...fallback] as Exclude<Output, undefined>;
    if (typeof fallback === "object" && fallback !== null) return { ...fallback } as Exclude<Output, undefined>;
    return this.fallback;
  }
}

class StringSchema extends Schema<string> {
  constructor(readonly typeError?: string | ((issue: { input: unknown }) => string)) {
    super();
  }
  protected parseType(input: unknown, path: readonly PropertyKey[], run: Run): string {
    if (typeof input === "string") return input;
    const custom = typeof this.typeError === "function" ? this.typeError({ input }) : this.typeError;
    typeIssue(run, path, input, "a string", custom);
    return input as string;
  }
  min(length: number, params?: Message): this {
    const message = messageOf(params, length === 1 ? "must not be empty" : `must be at least ${length} characters`);
    return this.withCheck((value, path, run) => {
      if (value.length < length) run.add(path, { code: "too_small", message }, false);
      return undefined;
    });
  }
  regex(pattern: RegExp, params?: Message): this {
    const message = messageOf(params, `must match ${pattern}`);
    return this.withCheck((value, path, run) => {
      pattern.lastIndex = 0;
      if (!pattern.test(value)) run.add(path, { code: "invalid_format", message }, false);
      return undefined;
    });
  }
  /** As zod's `z.url({ protocol })`: a URL `new URL` parses whose scheme matches; the value trimmed. */
  url(options: { protocol?: RegExp } = {}, params?: Message): this {
    const { protocol } = options;
    const message = messageOf(params, protocol ? `must be a URL whose scheme matches ${protocol}` : "must be a URL");
    return this.withCheck((value, path, run) => {
      const trimmed = value.trim();
      // An http(s) URL needs its `//`: `http:example.com` parses, as something else than meant.
      const needsSlashes = protocol?.source === "^https?$" && !/^https?:\/\//i.test(trimmed);
      const url = needsSlashes ? null : URL.parse(trimmed);
      let ok = url !== null;
      if (url !== null && protocol) {
        protocol.lastIndex = 0;
        ok = protocol.test(url.protocol.replace(/:$/, ""));
      }
      if (!ok) {
        run.add(path, { code: "invalid_format", message }, false);
        return undefined;
      }
      // The URL parser drops tabs and line breaks; the value does too, so it names the same host.
      return trimmed.replace(/[\t\n\r]/g, "");
    });
  }
}

class NumberSchema extends Schema<number> {
  protected parseType(input: unknown, path: readonly PropertyKey[], run: Run): number {
    if (typeof input === "number" && Number.isFinite(input)) return input;
    typeIssue(run, path, input, "a number");
    return input as number;
  }
  protected bound(ok: (value: number) => boolean, code: Issue["code"], message: string, fatal = false): this {
    return this.withCheck((value, path, run) => {
      if (!ok(value)) run.add(path, { code, message }, fatal);
      return undefined;
    });
  }
  int(params?: Message): this {
    // A fraction is a wrong type, as in zod: the bounds are not checked then.
    return this.bound(Number.isSafeInteger, "invalid_type", messageOf(params, "must be an integer"), true);
  }
  min(minimum: number, params?: Message): this {
    return this.bound((value) => value >= minimum, "too_small", messageOf(params, `must be at least ${minimum}`));
  }
  max(maximum: number, params?: Message): this {
    return this.bound((value) => value <= maximum, "too_big", messageOf(params, `must be at most ${maximum}`));
  }
  positive(params?: Message): this {
    return this.bound((value) => value > 0, "too_small", messageOf(params, "must be positive"));
  }
  nonnegative(params?: Message): this {
    return this.bound((value) => value >= 0, "too_small", messageOf(params, "must not be negative"));
  }
}

class BooleanSchema extends Schema<boolean> {
  protected parseType(input: unknown, path: readonly PropertyKey[], run: Run): boolean {
    if (typeof input !== "boolean") typeIssue(run, path, input, "true or false");
    return input as boolean;
  }
}

class UnknownSchema extends Schema<unknown> {
  protected parseType(input: unknown): unknown {
    return input;
  }
}

class ValuesSchema<T extends string | number | boolean> extends Schema<T> {
  constructor(readonly values: readonly T[]) {
    super();
  }
  protected parseType(input: unknown, path: readonly PropertyKey[], run: Run): T {
    if (!this.values.includes(input as T)) {
      const expected = this.values.map((value) => JSON.stringify(value));
      const message = expected.length === 1 ? `must be ${expected[0]}` : `must be one of ${expected.join(", ")}`;
      run.add(path, { code: "invalid_value", message }, true);
    }
    return input as T;
  }
}

class CustomSchema<T> extends Schema<T> {
  constructor(
    readonly test: (value: unknown) => boolean,
    readonly message: string,
  ) {
    super();
  }
  protected parseType(input: unknown, path: readonly PropertyKey[], run: Run): T {
    // A failed test is a wrong type, as in zod: a union then reports another option's problem.
    if (!this.test(input)) run.add(path, { code: "custom", message: this.message }, true);
    return input as T;
  }
}

class ArraySchema<Output, Input> extends Schema<Output[], Input[]> {
  constructor(readonly element: Schema<Output, Input>) {
    super();
  }
  protected parseType(input: unknown, path: readonly PropertyKey[], run: Run): Output[] {
    if (!Array.isArray(input)) {
      typeIssue(run, path, input, "an array");
      return input as Output[];
    }
    return input.map((item, index) => this.element._run(item, [...path, index], run));
  }
  min(length: number, params?: Message): this {
    const message = messageOf(params, `must have at least ${length} item${length === 1 ? "" : "s"}`);
    return this.withCheck((value, path, run) => {
      if (value.length < length) run.add(path, { code: "too_small", message }, false);
      return undefined;
    });
  }
}

function isPlainObject(input: unknown): input is Record<string, unknown> {
  return typeof input === "object" && input !== null && !Array.isArray(input);
}

type AnySchema = Schema<unknown, unknown>;
type Shape = Record<string, AnySchema>;
type Flatten<T> = { [K in keyof T]: T[K] } & {};
/** An object type from a shape: fields whose type admits `undefined` become optional, as in zod. */
type ObjectOf<S extends Shape, Side extends "_output" | "_input"> = Flatten<
  { [K in keyof S as undefined extends S[K][Side] ? never : K]: S[K][Side] } & {
    [K in keyof S as undefined extends S[K][Side] ? K : never]?: S[K][Side];
  }
>;

class ObjectSchema<S extends Shape, Output, Input> extends Schema<Output, Input> {
  constructor(
    readonly shape: S,
    readonly unknownKeys: "strict" | "passthrough",
  ) {
    super();
  }
  protected parseType(input: unknown, path: readonly PropertyKey[], run: Run): Output {
    if (!isPlainObject(input)) {
      typeIssue(run, path, input, "an object");
      return input as Output;
    }
    const result: Record<string, unknown> = {};
    for (const key of Object.keys(this.shape)) {
      const present = Object.hasOwn(input, key);
      const value = (this.shape[key] as AnySchema)._run(present ? input[key] : undefined, [...path, key], run);
      if (value !== undefined || present) result[key] = value;
    }
    const unknown = Object.keys(input).filter((key) => !Object.hasOwn(this.shape, key));
    if (this.unknownKeys === "strict") {
      if (unknown.length > 0) {
        const list = unknown.map((key) => JSON.stringify(key)).join(", ");
        run.add(path, { code: "unrecognized_keys", keys: unknown, message: `unknown field(s) ${list}` }, false);
      }
    } else {
      for (const key of unknown) if (key !== "__proto__") result[key] = input[key];
    }
    return result as Output;
  }
}

class RecordSchema<Output, Input> extends Schema<Record<string, Output>, Record<string, Input>> {
  constructor(readonly value: Schema<Output, Input>) {
    super();
  }
  protected parseType(input: unknown, path: readonly PropertyKey[], run: Run): Record<string, Output> {
    if (!isPlainObject(input)) {
      typeIssue(run, path, input, "an object");
      return input as Record<string, Output>;
    }
    const result: Record<string, Output> = {};
    for (const key of Object.keys(input)) {
      const value = this.value._run(input[key], [...path, key], run);
      if (key === "__proto__") Object.defineProperty(result, key, { value, enumerable: true, writable: true });
      else result[key] = value;
    }
    return result;
  }
}

class UnionSchema<Output, Input> extends Schema<Output, Input> {
  constructor(readonly options: readonly Schema<Output, Input>[]) {
    super();
  }
  protected parseType(input: unknown, path: readonly PropertyKey[], run: Run): Output {
    const attempts = this.options.map((option) => {
      const attempt = new Run();
      return { value: option._run(input, path, attempt), run: attempt };
    });
    const passed = attempts.find((attempt) => attempt.run.issues.length === 0);
    if (passed) return passed.value;
    // The only option whose types matched tells best what is wrong (its own message included).
    const typed = attempts.filter((attempt) => !attempt.run.abortedSince(0));
    if (typed.length === 1 && typed[0]) {
      run.issues.push(...typed[0].run.issues);
      return typed[0].value;
    }
    run.add(path, { code: "invalid_union", message: "matches none of the accepted forms" }, true);
    return input as Output;
  }
}

export function string(params?: { error?: string | ((issue: { input: unknown }) => string) }): StringSchema {
  return new StringSchema(params?.error);
}

export function url(options?: { protocol?: RegExp }, params?: Message): StringSchema {
  return new StringSchema().url(options, params);
}

export function number(): NumberSchema {
  return new NumberSchema();
}

export function boolean(): Schema<boolean> {
  return new BooleanSchema();
}

export function unknown(): Schema<unknown> {
  return new UnknownSchema();
}

export function literal<const T extends string | number | boolean>(value: T): Schema<T> {
  return new ValuesSchema([value]);
}

function enumOf<const T extends readonly [string, ...string[]]>(values: T): Schema<T[number]> {
  return new ValuesSchema<T[number]>(values);
}

export { enumOf as enum };

export function custom<T>(test: (value: unknown) => boolean, params?: Message): Schema<T> {
  return new CustomSchema<T>(test, messageOf(params, "is invalid"));
}

export function array<Output, Input>(element: Schema<Output, Input>): ArraySchema<Output, Input> {
  return new ArraySchema(element);
}

export function record<Output, Input>(
  _key: Schema<string>,
  value: Schema<Output, Input>,
): Schema<Record<string, Output>, Record<string, Input>> {
  return new RecordSchema(value);
}

/** An object with exactly these fields: an unknown field is an issue (`unrecognized_keys`). */
export function strictObject<S extends Shape>(shape: S): Schema<ObjectOf<S, "_output">, ObjectOf<S, "_input">> {
  return new ObjectSchema(shape, "strict");
}

/** An object with at least these fields: unknown ones are kept as they are. */
export function looseObject<S extends Shape>(
  shape: S,
): Schema<ObjectOf<S, "_output"> & Record<string, unknown>, ObjectOf<S, "_input"> & Record<string, unknown>> {
  return new ObjectSchema(shape, "passthrough");
}

export function union<const T extends readonly AnySchema[]>(
  options: T,
): Schema<T[number]["_output"], T[number]["_input"]> {
  return new UnionSchema(options as readonly Schema<T[number]["_output"], T[number]["_input"]>[]);
}
