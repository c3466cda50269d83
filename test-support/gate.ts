/**
 * A gate for race tests: a wrapped client call waits at `pass()` until the test opens the gate,
 * and the test waits on `reached` to know the call got there. So a test can make a step of one
 * client happen exactly between two steps of another.
 */
export interface Gate {
  /** Settles when the first call has reached the gate. */
  readonly reached: Promise<void>;
  /** Called inside the wrapped call: marks it as reached, and waits until the gate opens. */
  pass(): Promise<void>;
  open(): void;
}

export function createGate(): Gate {
  let markReached: () => void = () => undefined;
  let open: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    markReached = resolve;
  });
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    reached,
    pass: () => {
      markReached();
      return opened;
    },
    open: () => open(),
  };
}
