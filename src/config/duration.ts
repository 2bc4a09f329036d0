import { z } from 'zod';

const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a Go-style duration ("168h", "90s", "1h30m"); plain numbers are milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  if (!GO_DURATION.test(v)) throw new Error(`invalid duration "${value}" (use e.g. 90s, 15m, 168h)`);
  let total = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * UNIT_MS[m[2]];
  return Math.round(total);
}

/** A configuration duration, parsed to milliseconds. */
export const duration = z.union([z.string(), z.number().nonnegative()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
    return z.NEVER;
  }
});
