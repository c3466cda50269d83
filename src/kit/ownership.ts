/**
 * Ownership, for a cloud adapter: whose a secret is, told two ways, written once here.
 *
 * - The name: `<prefix><separator><owner><separator><uuid>`. No other owner's name starts the same
 *   way, so the name alone keeps owners apart, and needs no request. By default an adapter takes any
 *   secret at one of its owner's names as that owner's.
 * - The marks (tags, labels, custom metadata): the owner and the id, and on most providers a
 *   `managed-by: omnisecret` mark, written on each secret, for people, for a list filter, and for
 *   `verifyOwnership`, which takes a secret as the owner's only when every mark says so.
 *
 * An adapter keeps only what is its provider's: the separator, the spelling of the mark keys, how
 * marks travel in a request, and its list filters. The names and marks are what existing secrets
 * carry: changing a spelling here would lose them.
 */
import { secretNamePattern } from "../validation.js";

/** The value of the `managed-by` mark: who wrote the secret. */
export const MANAGED_BY_VALUE = "omnisecret";

/** The keys of the marks a provider writes on a secret. */
export interface MarkKeys {
  /** The key of the mark naming the owner. */
  readonly owner: string;
  /** The key of the mark naming the secret's id. */
  readonly id: string;
  /** The key of the `managed-by: omnisecret` mark; none when the provider writes no such mark. */
  readonly managedBy?: string;
}

export interface OwnershipOptions {
  /** The store's prefix (the adapter context's). */
  readonly prefix: string;
  /** The owner (the adapter options' `owner`). */
  readonly owner: string;
  /** What stands between prefix, owner and id in a name. */
  readonly separator: string;
  readonly marks: MarkKeys;
  /**
   * For a provider whose names are case-insensitive, and may come back in another case than
   * written: a name and the id mark are compared without case, and the id found is lowercased.
   */
  readonly ignoreCase?: boolean;
}

/** Marks as a provider hands them back: absent, or a map of strings. */
export type Marks = Readonly<Record<string, string | undefined>> | null | undefined;

export class Ownership {
  readonly owner: string;
  /** The start of every name of this owner; no other owner's name starts so. */
  readonly nameStart: string;
  readonly #keys: MarkKeys;
  readonly #ignoreCase: boolean;
  readonly #namePattern: RegExp;

  constructor(options: OwnershipOptions) {
    this.owner = options.owner;
    this.nameStart = `${options.prefix}${options.separator}${options.owner}${options.separator}`;
    this.#keys = options.marks;
    this.#ignoreCase = options.ignoreCase ?? false;
    this.#namePattern = secretNamePattern(this.nameStart, "", { ignoreCase: this.#ignoreCase });
  }

  /** The provider-native name of a secret (below any path of the provider's own). */
  nameOf(id: string): string {
    return `${this.nameStart}${id}`;
  }

  /**
   * The id in one of this owner's names, in canonical form; undefined for any other name, and for
   * a name around anything but a canonical UUID, so that list never yields an id get would refuse.
   */
  idOfName(name: string): string | undefined {
    const id = this.#namePattern.exec(name)?.[1];
    return this.#ignoreCase ? id?.toLowerCase() : id;
  }

  /** The marks every secret of this owner carries, the id's aside: what a list filters on. */
  get ownerMarks(): Record<string, string> {
    const { managedBy, owner } = this.#keys;
    return { ...(managedBy === undefined ? {} : { [managedBy]: MANAGED_BY_VALUE }), [owner]: this.owner };
  }

  /** The marks written on the secret of `id`. */
  marksFor(id: string): Record<string, string> {
    return { ...this.ownerMarks, [this.#keys.id]: id };
  }

  /** Whether `marks` say this owner stored `id`: every mark present, with this owner's values (`verifyOwnership`). */
  isOwned(marks: Marks, id: string): boolean {
    if (!marks) return false;
    const { managedBy, owner, id: idKey } = this.#keys;
    if (managedBy !== undefined && marks[managedBy] !== MANAGED_BY_VALUE) return false;
    const markedId = this.#ignoreCase ? marks[idKey]?.toLowerCase() : marks[idKey];
    return marks[owner] === this.owner && markedId === id;
  }

  /** Whether `marks` hold none of the marks (with any value): a secret nobody marked. */
  isUnmarked(marks: Marks): boolean {
    const { managedBy, owner, id } = this.#keys;
    return [managedBy, owner, id].every((key) => key === undefined || !marks?.[key]);
  }
}
