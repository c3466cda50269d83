/**
 * Progress of a copy or a comparison on stderr: on a terminal a bar drawn by cli-progress (count, rate, ETA,
 * redrawn in place); otherwise plain lines, at most one every `intervalMs` and one at the end,
 * so logs of a CI job stay short. Ids and values never appear in it: counts only.
 */
import { createRequire } from "node:module";

/** What the bar needs of a run's progress; the plain line's other counts come from `counts`. */
export interface RunProgress {
  readonly total: number;
  readonly done: number;
  readonly failed: number;
}

export interface ProgressReporter<P extends RunProgress> {
  update(progress: P): void;
  stop(): void;
}

export function progressReporter<P extends RunProgress>(options: {
  label: string;
  /** The plain line's counts after the rate, such as `copied 3, skipped 0, failed 1`. */
  counts: (progress: P) => string;
  /** A terminal to draw the bar on; absent or not a TTY: plain lines through `writeLine`. */
  stream?: NodeJS.WriteStream | undefined;
  writeLine: (line: string) => void;
  intervalMs?: number;
}): ProgressReporter<P> {
  const started = performance.now();
  const rateOf = (done: number) => done / Math.max((performance.now() - started) / 1000, 0.001);
  if (options.stream?.isTTY) {
    // Required here, on a terminal only (cli-progress is CommonJS): other CLI calls never load it.
    const cliProgress = createRequire(import.meta.url)("cli-progress") as typeof import("cli-progress");
    const bar = new cliProgress.SingleBar(
      {
        stream: options.stream,
        format: `${options.label} [{bar}] {value}/{total} | {rate}/s | ETA {eta_formatted} | failed {failed}`,
        hideCursor: true,
        etaBuffer: 50,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
    let begun = false;
    return {
      update(progress) {
        const payload = { rate: rateOf(progress.done).toFixed(1), failed: progress.failed };
        if (!begun) {
          bar.start(progress.total, progress.done, payload);
          begun = true;
        } else bar.update(progress.done, payload);
      },
      stop() {
        if (begun) bar.stop();
        begun = false;
      },
    };
  }
  const intervalMs = options.intervalMs ?? 2_000;
  let lastLine = Number.NEGATIVE_INFINITY;
  let last: P | undefined;
  const line = (progress: P) => {
    const rate = rateOf(progress.done);
    const left = progress.total - progress.done;
    const eta = rate > 0 && progress.done > 0 ? `${Math.ceil(left / rate)}s` : "?";
    options.writeLine(
      `${options.label}: ${progress.done}/${progress.total} (${rate.toFixed(1)}/s, ETA ${eta}), ${options.counts(progress)}`,
    );
    lastLine = performance.now();
  };
  return {
    update(progress) {
      last = progress;
      if (performance.now() - lastLine >= intervalMs) line(progress);
    },
    // Once only: a caller may stop it early (before a closing step) and again in a finally.
    stop() {
      if (last && performance.now() !== lastLine) line(last);
      last = undefined;
    },
  };
}
