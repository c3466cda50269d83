import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MANAGED_BY_VALUE, Ownership, type OwnershipOptions } from "./ownership.js";

const marks = { managedBy: "managed-by", owner: "omnisecret-owner", id: "omnisecret-id" };

function ownership(options: Partial<OwnershipOptions> = {}): Ownership {
  return new Ownership({ prefix: "app", owner: "team-a", separator: "-", marks, ...options });
}

describe("Ownership", () => {
  const id = randomUUID();

  describe("names", () => {
    it("puts prefix, owner and id in a name, with the provider's separator", () => {
      expect(ownership().nameStart).toBe("app-team-a-");
      expect(ownership().nameOf(id)).toBe(`app-team-a-${id}`);
      const slashed = ownership({ separator: "/" });
      expect(slashed.nameStart).toBe("app/team-a/");
      expect(slashed.nameOf(id)).toBe(`app/team-a/${id}`);
    });

    it("finds the id in this owner's names only", () => {
      const names = ownership();
      expect(names.idOfName(names.nameOf(id))).toBe(id);
      expect(names.idOfName(`app-team-b-${id}`)).toBeUndefined();
      expect(names.idOfName(`other-team-a-${id}`)).toBeUndefined();
      expect(names.idOfName(`xapp-team-a-${id}`)).toBeUndefined();
      expect(names.idOfName(`app-team-a-${id}-old`)).toBeUndefined();
      // Not a canonical UUID: get would refuse it, so list must not yield it.
      expect(names.idOfName(`app-team-a-${id.toUpperCase()}`)).toBeUndefined();
      expect(names.idOfName("app-team-a-not-a-uuid")).toBeUndefined();
      expect(names.idOfName("")).toBeUndefined();
    });

    it("takes the prefix and owner literally, not as a pattern", () => {
      const dotted = ownership({ prefix: "a.b", owner: "x+" });
      expect(dotted.idOfName(`a.b-x+-${id}`)).toBe(id);
      expect(dotted.idOfName(`aXb-xx-${id}`)).toBeUndefined();
    });

    it("with ignoreCase, reads a name in any case and answers the id in lowercase", () => {
      const names = ownership({ ignoreCase: true });
      expect(names.idOfName(`APP-Team-A-${id.toUpperCase()}`)).toBe(id);
      expect(ownership().idOfName(`APP-Team-A-${id}`)).toBeUndefined();
    });
  });

  describe("marks", () => {
    it("marks a secret with managed-by, its owner and its id", () => {
      expect(ownership().marksFor(id)).toEqual({
        "managed-by": MANAGED_BY_VALUE,
        "omnisecret-owner": "team-a",
        "omnisecret-id": id,
      });
      expect(MANAGED_BY_VALUE).toBe("omnisecret");
      expect(ownership().ownerMarks).toEqual({ "managed-by": "omnisecret", "omnisecret-owner": "team-a" });
    });

    it("writes no managed-by mark where the provider has none", () => {
      const unmanaged = ownership({ marks: { owner: "omnisecret:owner", id: "omnisecret:id" } });
      expect(unmanaged.marksFor(id)).toEqual({ "omnisecret:owner": "team-a", "omnisecret:id": id });
      expect(unmanaged.ownerMarks).toEqual({ "omnisecret:owner": "team-a" });
    });
  });

  describe("the strict check (isOwned)", () => {
    const owned = ownership();

    it("takes a secret carrying exactly its marks as this owner's", () => {
      expect(owned.isOwned(owned.marksFor(id), id)).toBe(true);
      expect(owned.isOwned({ ...owned.marksFor(id), other: "mark" }, id)).toBe(true);
    });

    it("refuses another owner's, another id's, and a secret without marks", () => {
      expect(owned.isOwned(ownership({ owner: "team-b" }).marksFor(id), id)).toBe(false);
      expect(owned.isOwned(owned.marksFor(randomUUID()), id)).toBe(false);
      expect(owned.isOwned(undefined, id)).toBe(false);
      expect(owned.isOwned(null, id)).toBe(false);
      expect(owned.isOwned({}, id)).toBe(false);
    });

    it("refuses a secret with one mark missing or wrong, managed-by included where the provider writes it", () => {
      for (const key of Object.values(marks)) {
        const { [key]: _dropped, ...rest } = owned.marksFor(id);
        expect(owned.isOwned(rest, id), `without ${key}`).toBe(false);
        expect(owned.isOwned({ ...owned.marksFor(id), [key]: "someone-else" }, id), `wrong ${key}`).toBe(false);
      }
    });

    it("needs no managed-by mark where the provider writes none", () => {
      const unmanaged = ownership({ marks: { owner: "o", id: "i" } });
      expect(unmanaged.isOwned({ o: "team-a", i: id }, id)).toBe(true);
      expect(unmanaged.isOwned({ o: "team-a" }, id)).toBe(false);
      expect(unmanaged.isOwned({ i: id }, id)).toBe(false);
    });

    it("compares the owner exactly, and the id mark without case only with ignoreCase", () => {
      expect(owned.isOwned({ ...owned.marksFor(id), "omnisecret-id": id.toUpperCase() }, id)).toBe(false);
      expect(owned.isOwned({ ...owned.marksFor(id), "omnisecret-owner": "TEAM-A" }, id)).toBe(false);
      const caseless = ownership({ ignoreCase: true });
      expect(caseless.isOwned({ ...caseless.marksFor(id), "omnisecret-id": id.toUpperCase() }, id)).toBe(true);
      expect(caseless.isOwned({ ...caseless.marksFor(id), "omnisecret-owner": "TEAM-A" }, id)).toBe(false);
    });
  });

  describe("isUnmarked", () => {
    it("is true only when none of the marks is there", () => {
      const owned = ownership();
      expect(owned.isUnmarked(undefined)).toBe(true);
      expect(owned.isUnmarked(null)).toBe(true);
      expect(owned.isUnmarked({ unrelated: "x", "omnisecret-owner": "" })).toBe(true);
      for (const key of Object.values(marks)) expect(owned.isUnmarked({ [key]: "x" }), key).toBe(false);
    });
  });
});
