/** Keys whose values are credentials, wherever they appear in the configuration. */
const SECRET_KEY = /secret|password|passwd|token|accesskey|privatekey|credential|authorization/i;
/** Keys that name secrets without holding one: insight's policy (`secrets: deny`) and its bounds. */
const NOT_SECRET_KEY = /^(secrets|secretheadbytes)$/;

export const REDACTED = 'REDACTED';

/** A copy of the effective configuration fit to print: every credential replaced by REDACTED. */
export function redactConfig(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactConfig);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  // Only values are secrets: a section whose name matches (auth.token) is still shown, its credentials redacted.
  // Header values are lists (http.headers, a notification endpoint's Authorization): each is redacted.
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && !NOT_SECRET_KEY.test(k) ? redactValue(v) : redactConfig(v);
  return out;
}

function redactValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactValue);
  return v !== undefined && v !== null && typeof v !== 'object' ? REDACTED : redactConfig(v);
}
