/**
 * What the scale workload needs of each provider beyond the raw sides' four operations
 * (integration-tests/servers/<provider>/bench-raw.ts), with the plain SDK or client; each
 * provider's own is its test side's `loadScaleRaw` (integration-tests/servers/<provider>/scale-raw.ts):
 *
 * - `listRaw()`: the raw side's list of its own namespace, named as its bench-raw.ts names secrets,
 *   with the fewest requests: one per page of the same page size omnisecret uses, the names
 *   filtered on the client where the server ignores the filter. Returns how many ids it found.
 * - `serverListed(prefix)`: how many keys the server lists when omnisecret's namespace at `prefix`
 *   is listed (L in the requests-per-list target): the namespace itself where the server filters
 *   (deleted secrets' leftovers too where the server lists them), everything the server holds
 *   where it lists more (a server that ignores the filter, or lists the whole vault). Sent
 *   outside any measurement.
 * - `pageSize`: results per list request (Infinity where one request answers the whole list).
 * - `dropLeftovers(prefix)`: removes what omnisecret's deletes leave on the server (tombstones),
 *   so a run leaves nothing behind.
 */
import { providerTestSides } from "../../integration-tests/servers/index.js";

export interface ScaleProvider {
  readonly pageSize: number;
  listRaw(): Promise<number>;
  serverListed(prefix: string): Promise<number>;
  dropLeftovers?(prefix: string): Promise<void>;
  /**
   * Sends the requests omnisecret's list of `prefix` sends, with the raw client, and returns how
   * long they took: the server's own cost of that list. Absent where the raw side's own list
   * already sends the same requests.
   */
  timeListRequests?(prefix: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * Builds a provider's scale support. `config` is the config omnisecret's store got, `rawConfig` the
 * raw side's (a store inside the process: its own file), `rawPrefix` the raw side's prefix, and
 * `owner` the owner both sides use.
 */
export type ScaleRawFactory = (options: {
  config: Record<string, unknown>;
  rawConfig: Record<string, unknown>;
  rawPrefix: string;
  owner: string;
}) => Promise<ScaleProvider>;

/** `omnisecretConfig` is the config omnisecret's store got; `rawConfig` the raw side's (its own file for a store inside the process). */
export async function createScaleProvider(
  provider: string,
  omnisecretConfig: Record<string, unknown>,
  rawConfig: Record<string, unknown>,
  rawPrefix: string,
): Promise<ScaleProvider> {
  const load = providerTestSides.find((side) => side.provider === provider)?.loadScaleRaw;
  if (!load) throw new Error(`no scale support for provider ${provider}`);
  const owner = (omnisecretConfig.owner as string | undefined) ?? "default";
  return (await load())({ config: omnisecretConfig, rawConfig, rawPrefix, owner });
}
