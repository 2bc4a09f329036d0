/** Keys whose values are credentials, wherever they appear in the configuration. */
const SECRET_KEY = /secret|password|passwd|token|accesskey|privatekey|credential/i;

export const REDACTED = 'REDACTED';

/** A copy of the effective configuration fit to print: every credential replaced by REDACTED. */
export function redactConfig(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactConfig);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null ? REDACTED : redactConfig(v);
  return out;
}
