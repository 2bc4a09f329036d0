import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config/schema';

/** Replaces the value of every `_state` query parameter (an upload capability) with REDACTED. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]_state=)[^&#]*/g, '$1REDACTED');
}

/** Credentials that may ride on a logged object; pino removes them before serialising. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'password',
  'token',
  'secret',
  '*.authorization',
  '*.password',
  '*.token',
  '*.secret',
];

/**
 * The process's logger: JSON lines on stdout (the `text` formatter is JSON too, to keep one output
 * shape and no extra dependency). `destination` lets tests capture the lines.
 */
export function createLogger(logConfig: Config['log'], destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: logConfig.level,
    base: { ...logConfig.fields },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: 'REDACTED' },
    // Any `url` or `location` field loses its `_state`, whoever logs it.
    serializers: { url: (u: unknown) => (typeof u === 'string' ? redactUrl(u) : u), location: (u: unknown) => (typeof u === 'string' ? redactUrl(u) : u) },
    formatters: { level: (label) => ({ level: label }) },
  };
  // Synchronous writes: sonic-boom 4's exit-time flushSync of an async destination retries forever
  // when stdout is a broken pipe (EPIPE), which turned SIGTERM into a hang; sync writes never queue.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}
