const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** Decimal units, as docker prints image sizes. */
export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  let v = n;
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

export function percent(ratio: number): string {
  const text = (ratio * 100).toFixed(1);
  // 99.996 % is not 100 %: an image that wastes anything must not look perfect.
  return ratio < 1 && text === '100.0' ? '> 99.9 %' : `${text} %`;
}

/** `sha256:0123456789ab` — enough to tell digests apart on screen; the full one is in `title`. */
export function shortDigest(digest: string): string {
  const i = digest.indexOf(':');
  return i < 0 ? digest.slice(0, 12) : digest.slice(0, i + 13);
}

export function isDigest(reference: string): boolean {
  return /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(reference) && reference.includes(':');
}

export function date(value: string | undefined): string {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

const SPANS: Array<[number, string]> = [
  [365 * 86_400_000, 'year'],
  [30 * 86_400_000, 'month'],
  [7 * 86_400_000, 'week'],
  [86_400_000, 'day'],
  [3_600_000, 'hour'],
  [60_000, 'minute'],
];

/** `3 hours ago`: the largest whole unit; under a minute is `just now` (clocks a little ahead included). */
export function relativeTime(value: string, now = Date.now()): string {
  const ms = now - new Date(value).getTime();
  if (!Number.isFinite(ms)) return value;
  for (const [span, unit] of SPANS) {
    const n = Math.floor(Math.abs(ms) / span);
    if (n >= 1) return ms >= 0 ? `${n} ${unit}${n === 1 ? '' : 's'} ago` : `in ${n} ${unit}${n === 1 ? '' : 's'}`;
  }
  return 'just now';
}
