/**
 * The fewest requests each operation can send on a provider for the contract's meaning, derived
 * from the provider's API (not from what the adapter happens to do): store refuses an existing
 * id, update and delete report a missing one and update never creates, get returns the whole map,
 * and a replaced value does not stay readable beyond what `keepVersions` asks for. Ownership costs
 * no request in the default configuration, because the owner is part of the name
 * (`verifyOwnership: true` checks the tags first and costs more; see each provider's page).
 * For a store inside the process these are what it counts instead (SQL statements, not network
 * requests).
 *
 * Each provider's numbers, with why each is the minimum, are its test side's `minimumRequests`
 * (`integration-tests/servers/<provider>/minimums.ts`); `MINIMUMS` gathers them by provider.
 * `integration-tests/request-counts.test.ts` asserts them against every provider's test server,
 * so a change that adds a request fails a test; `npm run bench` reports them beside the counts it
 * measures on both sides.
 */
import { providerTestSides } from "../../integration-tests/servers/index.js";

export type Operation = "store" | "get" | "update" | "delete";

export interface Minimum {
  readonly requests: number;
  readonly why: string;
  /**
   * Set where the provider finishes the operation in the background and the client polls until it
   * is done: `requests` counts one poll, and repeats of the same poll are not counted against it.
   */
  readonly polls?: true;
  /**
   * Set where omnisecret sends more than the minimum: why, and what would close the gap (shown
   * beside the bench's requests target).
   */
  readonly excess?: string;
}

export type Minimums = Readonly<Record<Operation, Minimum>>;

export const MINIMUMS: Readonly<Record<string, Minimums>> = Object.fromEntries(
  providerTestSides.flatMap((side) => (side.minimumRequests ? [[side.provider, side.minimumRequests]] : [])),
);
