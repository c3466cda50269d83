/**
 * `run`'s output masking: a streaming replacement of every injected value in the command's
 * output, on bytes (so a multi-byte character split across chunks needs no decoding).
 *
 * Which occurrences are replaced: the leftmost, and of those starting there the longest; the scan
 * goes on after it (the semantics of a regex alternation of the values, longest first). Each
 * chunk is scanned with `Buffer.indexOf`, one pass per pattern (native, and with the handful of
 * values a command gets faster than a byte-by-byte automaton in JavaScript such as Aho-Corasick),
 * with a carry-over: only the tail that may still become an occurrence is held back, i.e. the
 * earliest suffix of what was read that is a proper prefix of some pattern, or an occurrence that
 * a longer pattern starting at the same place might still extend. Everything before it is passed
 * on at once, so output that cannot be part of a value is never delayed, and the carry stays
 * shorter than twice the longest pattern. The result does not depend on how the output is cut
 * into chunks (a property test checks it against masking the whole text at once).
 */
import { Transform, type TransformCallback } from "node:stream";

/** What replaces a value in the output. */
export const MASK = "<redacted>";

/**
 * Values shorter than this (in characters) are not masked: replacing every "on" or "1" in the
 * output would garble it, and a value of three characters or fewer is not one a log could leak
 * meaningfully (it can be guessed in a few thousand tries anyway).
 */
export const MIN_MASKED_LENGTH = 4;

/** The byte patterns for `values`: each raw and, where it differs, JSON-escaped; short ones left out. */
export function maskPatterns(values: Iterable<string>): Buffer[] {
  const texts = new Set<string>();
  for (const value of values) {
    if ([...value].length < MIN_MASKED_LENGTH) continue;
    texts.add(value);
    texts.add(JSON.stringify(value).slice(1, -1));
  }
  return [...texts].map((text) => Buffer.from(text, "utf8")).sort((a, b) => b.length - a.length);
}

/** A streaming masker over fixed patterns: `push` each chunk, then `end` once. */
export class Masker {
  readonly #patterns: readonly Buffer[];
  readonly #mask: Buffer;
  #carry: Buffer = Buffer.alloc(0);

  constructor(patterns: readonly Buffer[], mask: string = MASK) {
    // Longest first: at one start, the first pattern found is the longest.
    this.#patterns = [...patterns].filter((pattern) => pattern.length > 0).sort((a, b) => b.length - a.length);
    this.#mask = Buffer.from(mask, "utf8");
  }

  /** The output for `chunk` that can be decided now (possibly none). */
  push(chunk: Buffer): Buffer[] {
    const data = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk]);
    const { out, rest } = this.#scan(data, false);
    this.#carry = rest === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(rest));
    return out;
  }

  /** The rest of the output, once nothing more comes. */
  end(): Buffer[] {
    const data = this.#carry;
    this.#carry = Buffer.alloc(0);
    return this.#scan(data, true).out;
  }

  /** Replaces the occurrences that are certain; `rest` is where the held-back tail starts. */
  #scan(data: Buffer, final: boolean): { out: Buffer[]; rest: number } {
    const out: Buffer[] = [];
    if (this.#patterns.length === 0) {
      if (data.length > 0) out.push(data);
      return { out, rest: data.length };
    }
    const tails = final ? [] : this.#tailStarts(data);
    let tailIndex = 0;
    const next = this.#patterns.map(() => -2); // -2: not searched yet; -1: none left
    let position = 0;
    let emitted = 0;
    for (;;) {
      let start = -1;
      let length = 0;
      for (let index = 0; index < this.#patterns.length; index += 1) {
        const pattern = this.#patterns[index] as Buffer;
        let at = next[index] as number;
        if (at === -2 || (at !== -1 && at < position)) {
          at = data.indexOf(pattern, position);
          next[index] = at;
        }
        if (at !== -1 && (start === -1 || at < start)) {
          start = at;
          length = pattern.length;
        }
      }
      while (tailIndex < tails.length && (tails[tailIndex] as number) < position) tailIndex += 1;
      const tail = tailIndex < tails.length ? (tails[tailIndex] as number) : data.length;
      // A pattern may still begin at `tail`, at or before the next occurrence: wait for more.
      if (start === -1 || tail <= start) {
        if (tail > emitted) out.push(data.subarray(emitted, tail));
        return { out, rest: tail };
      }
      if (start > emitted) out.push(data.subarray(emitted, start));
      out.push(this.#mask);
      position = start + length;
      emitted = position;
    }
  }

  /** Every place, ascending, where the rest of `data` is a proper prefix of some pattern. */
  #tailStarts(data: Buffer): number[] {
    const starts = new Set<number>();
    for (const pattern of this.#patterns) {
      const first = pattern[0] as number;
      let at = data.indexOf(first, Math.max(0, data.length - pattern.length + 1));
      while (at !== -1) {
        const length = data.length - at;
        if (data.compare(pattern, 0, length, at) === 0) starts.add(at);
        at = data.indexOf(first, at + 1);
      }
    }
    return [...starts].sort((a, b) => a - b);
  }
}

/** `Masker` as a stream: bytes in, masked bytes out. */
export function maskingStream(patterns: readonly Buffer[]): Transform {
  const masker = new Masker(patterns);
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      for (const piece of masker.push(chunk)) this.push(piece);
      callback();
    },
    flush(callback: TransformCallback) {
      for (const piece of masker.end()) this.push(piece);
      callback();
    },
  });
}
