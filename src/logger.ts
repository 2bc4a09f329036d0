import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config/schema';
import { textDestination } from './log-text';

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
 * The process's logger: JSON lines on stdout, or with `log.formatter: text` one readable line per
 * record (log-text.ts). Distribution's `logstash` is taken as JSON: both are one JSON object a line.
 * `destination` lets tests capture the lines.
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
  const out = destination ?? pino.destination({ dest: 1, sync: true });
  return pino(options, logConfig.formatter === 'text' ? textDestination(out) : out);
}
