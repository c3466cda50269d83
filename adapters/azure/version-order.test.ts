import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newestFirst, type OrderedVersion, outsideEveryWindow } from "./version-order.js";

const v = (version: string, sequence: number, replaces?: string, createdMs = 1_000): OrderedVersion => ({
  version,
  createdMs,
  sequence,
  replaces,
});

const order = (versions: readonly OrderedVersion[], current: string) =>
  newestFirst(versions, current).map((entry) => entry.version);

/**
 * The versions a history of racing updates writes, in the order they land (Key Vault's current is
 * the last): each update reads the version current `readLag` writes ago (a racer's stale read) and
 * writes; seconds advance when `tick`.
 */
function writeHistory(plan: readonly { readonly readLag: number; readonly tick: boolean }[]): OrderedVersion[] {
  const written: OrderedVersion[] = [v("v0", 1, undefined, 0)];
  let second = 0;
  for (const [index, { readLag, tick }] of plan.entries()) {
    const read = written[Math.max(0, written.length - 1 - readLag)] as OrderedVersion;
    if (tick) second += 1;
    written.push(v(`v${index + 1}`, read.sequence + 1, read.version, second * 1_000));
  }
  return written;
}

describe("newestFirst: the order of a Key Vault secret's versions", () => {
  it("puts the current version first, then each version before the one it replaced", () => {
    const chain = [v("s", 1), v("a", 2, "s"), v("b", 3, "a"), v("c", 4, "b")];
    expect(order([...chain].reverse(), "c")).toEqual(["c", "b", "a", "s"]);
    expect(order(chain, "c")).toEqual(["c", "b", "a", "s"]);
  });

  it("after racing updates and a rollback, the version the rollback replaced comes just after it", () => {
    // Four racing updates of s in one second: w1 read w0 as current (sequence 3), the others read
    // s; Key Vault made w2 current. Then a rollback r (sequence 3) replaced w2.
    const racing = [v("s", 1), v("w0", 2, "s"), v("w1", 3, "w0"), v("w2", 2, "s"), v("w3", 2, "s")];
    expect(order(racing, "w2")).toEqual(["w2", "w1", "w0", "w3", "s"]);
    const rolledBack = [...racing, v("r", 3, "w2")];
    // By sequence alone w1 (3) came before w2 (2): the rollback's "previous" was w1 again.
    expect(order(rolledBack, "r")).toEqual(["r", "w2", "w1", "w0", "w3", "s"]);
  });

  it("puts a version created in a later second first, whatever its sequence", () => {
    expect(
      order([v("old", 9, undefined, 1_000), v("new", 1, undefined, 2_000), v("cur", 2, "new", 2_000)], "cur"),
    ).toEqual(["cur", "new", "old"]);
  });

  it("keeps every version when tags changed by hand make a cycle", () => {
    expect(order([v("a", 1, "b"), v("b", 1, "a"), v("c", 2, "a")], "c").sort()).toEqual(["a", "b", "c"]);
  });

  it("answers, for any serial history of racing updates, an order the writes could have had", () => {
    // A history: each update reads the current version at some step and writes at a later one;
    // Key Vault's current is the last write; seconds advance now and then.
    const updates = fc.array(fc.record({ readLag: fc.nat(3), tick: fc.boolean() }), {
      minLength: 1,
      maxLength: 12,
    });
    fc.assert(
      fc.property(updates, (plan) => {
        const written = writeHistory(plan);
        const truth = written.map((entry) => entry.version);
        // Key Vault lists versions in no time order.
        const listed = [...written].sort((a, b) => (a.version < b.version ? -1 : 1));
        const result = order(listed, truth.at(-1) as string);
        expect([...result].sort()).toEqual([...truth].sort());
        const position = new Map(result.map((version, at) => [version, at]));
        expect(result[0]).toBe(truth.at(-1));
        for (const entry of written) {
          if (entry.replaces !== undefined)
            expect(position.get(entry.version) as number).toBeLessThan(position.get(entry.replaces) as number);
          for (const other of written) {
            if (other.createdMs < entry.createdMs)
              expect(position.get(entry.version) as number).toBeLessThan(position.get(other.version) as number);
          }
        }
      }),
    );
  });
});

describe("outsideEveryWindow: the versions an update may disable", () => {
  const outside = (versions: readonly OrderedVersion[], keep: number) =>
    outsideEveryWindow(versions, keep)
      .map((entry) => entry.version)
      .sort();

  it("serial updates: every version but the latest keepVersions", () => {
    const chain = [v("s", 1), v("a", 2, "s"), v("b", 3, "a"), v("c", 4, "b")];
    expect(outside(chain, 2)).toEqual(["a", "s"]);
    expect(outside(chain, 3)).toEqual(["s"]);
    expect(outside(chain, 1)).toEqual(["a", "b", "s"]);
  });

  it("never a slow racer's version that landed in a later second, whatever its sequence", () => {
    // w read s and wrote; x read w, y read x (sequence 4), all in second 1; slow read s long ago
    // and wrote in second 2, last: Key Vault's current. By sequence, slow (2) was out of y's window.
    const versions = [
      v("s", 1, undefined, 0),
      v("w", 2, "s", 1_000),
      v("x", 3, "w", 1_000),
      v("y", 4, "x", 1_000),
      v("slow", 2, "s", 2_000),
    ];
    expect(outside(versions, 2)).toEqual(["s", "w", "x"]);
    expect(order(versions, "slow").slice(0, 2)).toEqual(["slow", "y"]);
  });

  it("after any history of racing updates, each pruning with what it listed, the window is intact", () => {
    // Each update reads the version current `readLag` writes ago, writes, and lists the versions
    // after `listLag` more writes landed; it disables what `outsideEveryWindow` names of those.
    const updates = fc.array(fc.record({ readLag: fc.nat(3), listLag: fc.nat(3), tick: fc.boolean() }), {
      minLength: 1,
      maxLength: 12,
    });
    fc.assert(
      fc.property(updates, fc.integer({ min: 2, max: 4 }), (plan, keep) => {
        const written = writeHistory(plan);
        const disabled = new Set<string>();
        for (const [index, { listLag }] of plan.entries()) {
          const listed = written.slice(0, Math.min(written.length, index + 2 + listLag));
          for (const entry of outsideEveryWindow(listed, keep)) disabled.add(entry.version);
        }
        const current = (written.at(-1) as OrderedVersion).version;
        const window = order(written, current).slice(0, keep);
        for (const version of window) expect(disabled.has(version), `${version} in the window`).toBe(false);
        // Without races (each update read the latest and listed at once) nothing stays beyond it.
        if (plan.every(({ readLag, listLag }) => readLag === 0 && listLag === 0))
          expect(disabled.size).toBe(Math.max(0, written.length - keep));
      }),
    );
  });
});
