/** What the progress line is written to: standard error, or a fake in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  write(s: string): unknown;
}

export interface Progress {
  /** Shows `line` now or at the next tick; cheap enough to call per blob. */
  update(line: () => string): void;
  /** Clears the line, so that what follows starts on a clean one. */
  done(): void;
}

const NONE: Progress = { update: () => undefined, done: () => undefined };
const INTERVAL_MS = 200;

/**
 * One line rewritten in place (carriage return, erase to end of line) at most every 200 ms, and
 * only on a terminal: a log file or a pipe gets nothing, so scripts reading stderr see errors only.
 * `line` is a function so that the text is built only when it is shown.
 */
export function progressOn(stream: ProgressStream, now: () => number = Date.now): Progress {
  if (stream.isTTY !== true) return NONE;
  let shownAt = 0;
  let shown = false;
  return {
    update(line) {
      const t = now();
      if (t - shownAt < INTERVAL_MS) return;
      shownAt = t;
      shown = true;
      stream.write(`\r\x1b[K${line()}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
