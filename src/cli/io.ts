import type { ProgressStream } from './progress';

/** What a command reads and writes, passed in by main (and by tests). */
export interface CliIo {
  env: Record<string, string | undefined>;
  /** Standard output: the command's result (a summary, or JSON). */
  out: (s: string) => void;
  /** Standard error: messages, and progress when it is a terminal. */
  err: ProgressStream;
}
