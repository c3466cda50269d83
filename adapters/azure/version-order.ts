/**
 * The order of a Key Vault secret's versions, newest first. Key Vault gives no order itself: its
 * list of versions is in no time order, `created` counts whole seconds, and it has no conditional
 * write, so racing updates all land. What the adapter knows, each fact true of the real order:
 * - the current version is the newest (Key Vault makes the last write current);
 * - a version is newer than the one it replaced (`omnisecret-replaces`: the update read that one
 *   as current before it wrote);
 * - a version created in a later second is newer.
 * Any order that keeps these is a serial order the writes could have had. Within one second,
 * ties go first to the version the one just placed replaced (so a rollback's "previous" is the
 * version it rolled back, not a racer of that version's round), then to the higher sequence,
 * then to the version id, so every caller sees the same order.
 */

/** What the order needs of a version: its id (lower case) and what its tags and Key Vault say. */
export interface OrderedVersion {
  readonly version: string;
  /** Whole seconds, as Key Vault gives them; 0 when it gives none. */
  readonly createdMs: number;
  readonly sequence: number;
  /** The version id this one replaced, lower case, when an update wrote it. */
  readonly replaces?: string | undefined;
}

export function newestFirst<T extends OrderedVersion>(versions: readonly T[], current: string): T[] {
  const ordered: T[] = [];
  const rest: T[] = [];
  for (const entry of versions) (entry.version === current ? ordered : rest).push(entry);
  // A version may be placed once every version that replaced it is: count those still waiting.
  const waitingReplacers = new Map<string, number>();
  for (const entry of rest) {
    if (entry.replaces !== undefined)
      waitingReplacers.set(entry.replaces, (waitingReplacers.get(entry.replaces) ?? 0) + 1);
  }
  const place = (entry: T) => {
    ordered.push(entry);
    if (entry.replaces !== undefined && waitingReplacers.has(entry.replaces))
      waitingReplacers.set(entry.replaces, (waitingReplacers.get(entry.replaces) ?? 1) - 1);
  };
  const byTime = [...rest].sort((a, b) => b.createdMs - a.createdMs);
  // Versions of one second are ordered among themselves; a replacer is never in an older second.
  for (let start = 0; start < byTime.length; ) {
    let end = start;
    while (end < byTime.length && byTime[end]?.createdMs === byTime[start]?.createdMs) end += 1;
    const second = byTime.slice(start, end);
    while (second.length > 0) {
      const previouslyPlaced = ordered.at(-1)?.replaces;
      const ready = second.filter((entry) => (waitingReplacers.get(entry.version) ?? 0) === 0);
      // Tags changed by hand can make a cycle: then the constraint is dropped, not the versions.
      const candidates = ready.length > 0 ? ready : second;
      const chosen =
        candidates.find((entry) => entry.version === previouslyPlaced) ??
        candidates.reduce((best, entry) =>
          entry.sequence > best.sequence || (entry.sequence === best.sequence && entry.version > best.version)
            ? entry
            : best,
        );
      second.splice(second.indexOf(chosen), 1);
      place(chosen);
    }
    start = end;
  }
  return ordered;
}

/**
 * The versions every serial order places at `keep` or beyond, so disabling them never hides a
 * version `newestFirst` would show in the window of `keep`, now or after later writes: those with
 * at least `keep` versions certainly newer (replacing them, directly or through others, or created
 * in a later second). The current version is never one of them: nothing is certainly newer than
 * the last write. A racer's version that merely has a lower sequence is not certainly older: a
 * slow update can read an old version and still land last or in a later second.
 */
export function outsideEveryWindow<T extends OrderedVersion>(versions: readonly T[], keep: number): T[] {
  const byVersion = new Map(versions.map((entry) => [entry.version, entry]));
  const newer = new Map<string, Set<string>>(versions.map((entry) => [entry.version, new Set<string>()]));
  for (const entry of versions) {
    // Every version `entry` replaced, directly or through a chain; tags changed by hand may loop.
    const seen = new Set<string>([entry.version]);
    for (let older = entry.replaces; older !== undefined && !seen.has(older); ) {
      seen.add(older);
      newer.get(older)?.add(entry.version);
      older = byVersion.get(older)?.replaces;
    }
    for (const other of versions) if (other.createdMs > entry.createdMs) newer.get(entry.version)?.add(other.version);
  }
  return versions.filter((entry) => (newer.get(entry.version)?.size ?? 0) >= keep);
}
