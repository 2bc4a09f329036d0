/** Keys whose values are credentials, wherever they appear in the configuration. */
const SECRET_KEY = /secret|password|passwd|token|accesskey|privatekey|credential/i;

export const REDACTED = 'REDACTED';

/** A copy of the effective configuration fit to print: every credential replaced by REDACTED. */
export function redactConfig(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactConfig);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  // Only values are secrets: a section whose name matches (auth.token) is still shown, its credentials redacted.
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null && typeof v !== 'object' ? REDACTED : redactConfig(v);
  return out;
}
