/** What the next matching requests get instead of (or before) their normal answer. */
export type FaultSpec =
  | { kind: "status"; status: number; retryAfterSeconds?: number }
  /** The socket is destroyed without an answer, as when a load balancer drops a connection. */
  | { kind: "drop" }
  /** The request is answered normally, after a pause. */
  | { kind: "delay"; delayMs: number };

export interface FaultMatch {
  /** HTTP method, case-insensitive; any method when absent. */
  method?: string;
  /** Matches when the request path (no query) starts with this, case-insensitive; any path when absent. */
  pathPrefix?: string;
}

export type FaultRequest = FaultSpec &
  FaultMatch & { /** How many matching requests it applies to. @default 1 */ count?: number };

interface ActiveFault {
  id: number;
  spec: FaultSpec;
  match: FaultMatch;
  remaining: number;
}

export interface RequestLogEntry {
  method: string;
  /** The path without its query string; bodies and headers are never recorded. */
  path: string;
  status: number | "dropped";
  /** The `api-version` query parameter, when the request had one. */
  apiVersion?: string;
  /** True for a request with a `$skiptoken`: a list's next page, from the nextLink. */
  skipToken?: true;
  /** The injected fault that shaped this answer, if any. */
  fault?: FaultSpec["kind"];
  /** Which listener answered: the vault (HTTPS) or the managed-identity endpoint (HTTP). */
  listener: "vault" | "identity";
}

export class FaultInjector {
  private faults: ActiveFault[] = [];
  private nextId = 1;

  add(request: FaultRequest): number {
    const { count = 1, method, pathPrefix, ...spec } = request;
    if (!Number.isInteger(count) || count < 1) throw new Error("count must be a positive integer");
    validateSpec(spec as FaultSpec);
    const id = this.nextId++;
    this.faults.push({
      id,
      spec: spec as FaultSpec,
      match: {
        ...(method ? { method: method.toUpperCase() } : {}),
        ...(pathPrefix ? { pathPrefix: pathPrefix.toLowerCase() } : {}),
      },
      remaining: count,
    });
    return id;
  }

  /** Takes one use of the first fault matching this request, oldest first. */
  take(method: string, path: string): FaultSpec | undefined {
    const lowerPath = path.toLowerCase();
    const fault = this.faults.find(
      (candidate) =>
        (!candidate.match.method || candidate.match.method === method.toUpperCase()) &&
        (!candidate.match.pathPrefix || lowerPath.startsWith(candidate.match.pathPrefix)),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.faults = this.faults.filter((candidate) => candidate !== fault);
    return fault.spec;
  }

  pending(): Array<FaultRequest & { id: number }> {
    return this.faults.map((fault) => ({ id: fault.id, ...fault.spec, ...fault.match, count: fault.remaining }));
  }

  clear(): void {
    this.faults = [];
  }
}

function validateSpec(spec: FaultSpec): void {
  switch (spec.kind) {
    case "status":
      if (!Number.isInteger(spec.status) || spec.status < 400 || spec.status > 599) {
        throw new Error("status must be an HTTP error status (400-599)");
      }
      if (spec.retryAfterSeconds !== undefined && !(spec.retryAfterSeconds >= 0)) {
        throw new Error("retryAfterSeconds must be a non-negative number");
      }
      return;
    case "drop":
      return;
    case "delay":
      if (!(spec.delayMs >= 0)) throw new Error("delayMs must be a non-negative number");
      return;
    default:
      throw new Error(`unknown fault kind ${(spec as { kind: unknown }).kind}`);
  }
}

/** A bounded record of what was asked, for tests that count requests per operation. */
export class RequestLog {
  private entries: RequestLogEntry[] = [];

  constructor(private readonly limit = 10_000) {}

  record(entry: RequestLogEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
  }

  list(): RequestLogEntry[] {
    return [...this.entries];
  }

  clear(): void {
    this.entries = [];
  }
}
