import { performance } from 'node:perf_hooks';

/**
 * Now, as Go's time.Time prints in JSON (RFC 3339, fractional seconds to the precision the clock
 * has, trailing zeros cut), so that events of one millisecond still sort. The wall clock has
 * milliseconds only; the monotonic clock has microseconds but its own origin, and the two drift apart
 * (a clock step, NTP, a suspended VM). So the monotonic clock is placed on the wall clock by an
 * offset that only ever grows from below (the largest wall - monotonic seen: never ahead of the true
 * time) and is reset whenever it would name another millisecond than the wall clock does. The
 * millisecond printed is always the wall clock's; the digits after it come from the monotonic clock.
 */
export function createEventClock(wall: () => number = Date.now, monotonic: () => number = () => performance.now()): () => string {
  let offset = -Infinity;
  return () => {
    const wallMs = wall();
    const mono = monotonic();
    if (Math.floor(mono + offset) !== wallMs) offset = wallMs - mono;
    return formatTime(mono + offset);
  };
}

/** RFC 3339 in UTC with at most microseconds, trailing zeros cut, as Go's RFC3339Nano. */
function formatTime(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.min(999, Math.round((ms - whole) * 1000));
  const iso = new Date(whole).toISOString();
  const fraction = `${iso.slice(20, 23)}${String(micros).padStart(3, '0')}`.replace(/0+$/, '');
  return `${iso.slice(0, 19)}${fraction ? `.${fraction}` : ''}Z`;
}

/** The clock of every event this process records. */
export const eventTimestamp = createEventClock();
