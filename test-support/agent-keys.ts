import { Agent as HttpsAgent } from "node:https";

/**
 * The length of each key Node's https agents computed while `run` ran. `Agent.getName` joins a
 * request's TLS options, its `ca` among them, into that key on every request: a client that hands
 * the agent hundreds of kilobytes of CAs pays for joining them each time.
 */
export async function httpsAgentKeyLengths(run: () => Promise<void>): Promise<number[]> {
  const lengths: number[] = [];
  const getName = HttpsAgent.prototype.getName;
  HttpsAgent.prototype.getName = function (this: HttpsAgent, options) {
    const name = getName.call(this, options);
    lengths.push(name.length);
    return name;
  };
  try {
    await run();
  } finally {
    HttpsAgent.prototype.getName = getName;
  }
  return lengths;
}
