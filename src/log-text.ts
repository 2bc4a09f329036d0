import type { DestinationStream } from 'pino';

/**
 * `log.formatter: text`: each JSON line pino writes becomes one line for a person at a terminal,
 *
 *   2026-01-02T03:04:05.678Z INFO  listening address=127.0.0.1:5000 storage=filesystem
 *
 * followed, for a logged error, by its stack, indented. Formatting a line pino already serialised
 * keeps redaction, serializers and child bindings in one place (pino's), needs no worker thread
 * (pino transports run one) and costs the JSON path nothing: it is a different destination.
 */
export function textDestination(out: DestinationStream): DestinationStream {
  const stream: DestinationStream & { flush?: (cb: (err?: Error) => void) => void; flushSync?: () => void } = {
    write(line: string) {
      out.write(formatLine(line));
    },
  };
  // serve.ts flushes before exiting; a destination without flush would drop nothing anyway (sync).
  const inner = out as { flush?: (cb: (err?: Error) => void) => void; flushSync?: () => void };
  if (typeof inner.flush === 'function') stream.flush = (cb) => inner.flush!(cb);
  if (typeof inner.flushSync === 'function') stream.flushSync = () => inner.flushSync!();
  return stream;
}

const FIRST = ['time', 'level', 'msg'];

/** One JSON log line as text; anything that is not a JSON object passes through untouched. */
export function formatLine(line: string): string {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    return line;
  }
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return line;
  const r = rec as Record<string, unknown>;
  const level = text(r.level).toUpperCase();
  const head = [text(r.time), level.padEnd(5), text(r.msg)].filter((s) => s !== '').join(' ');
  const fields: string[] = [];
  const stacks: string[] = [];
  for (const [key, value] of Object.entries(r)) {
    if (FIRST.includes(key)) continue;
    flatten(key, value, fields, stacks);
  }
  const tail = stacks.map((s) => '\n' + indent(s)).join('');
  return `${head}${fields.length > 0 ? ' ' + fields.join(' ') : ''}${tail}\n`;
}

function text(value: unknown): string {
  return value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
}

/** An error's fields as `err.message=…`, its stack kept aside (it repeats the message and spans lines). */
function flatten(key: string, value: unknown, fields: string[], stacks: string[]): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (isError(value)) {
      for (const [k, v] of entries) {
        if (k === 'stack' && typeof v === 'string') stacks.push(v);
        else if (k !== 'type') flatten(`${key}.${k}`, v, fields, stacks);
      }
      return;
    }
    if (entries.length > 0) {
      for (const [k, v] of entries) flatten(`${key}.${k}`, v, fields, stacks);
      return;
    }
  }
  fields.push(`${key}=${quote(value)}`);
}

/** pino's error serializer writes `type`, `message` and `stack`. */
function isError(value: object): boolean {
  const v = value as Record<string, unknown>;
  return typeof v.message === 'string' && typeof v.stack === 'string';
}

/** Bare when unambiguous; else JSON-quoted, so that a value with spaces or `=` stays one field. */
function quote(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=\\]+$/.test(value) ? value : JSON.stringify(value);
  const json = JSON.stringify(value) ?? '';
  return /\s/.test(json) ? JSON.stringify(json) : json;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => '    ' + l.trim())
    .join('\n');
}
