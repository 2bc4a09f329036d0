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

/**
 * A copy without its credentials, and the key paths left out (`mirrors.0.password`): what `berth
 * config check` prints, so that the output, fed back, never holds a placeholder that would pass for
 * a real secret.
 */
export function withoutSecrets(value: unknown, path: string[] = [], omitted: string[] = []): { value: unknown; omitted: string[] } {
  if (Array.isArray(value)) return { value: value.map((v, i) => withoutSecrets(v, [...path, String(i)], omitted).value), omitted };
  if (typeof value !== 'object' || value === null) return { value, omitted };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    // As in redactConfig: a section named like a credential (auth.token) keeps its non-secret keys.
    if (SECRET_KEY.test(k) && !NOT_SECRET_KEY.test(k) && (typeof v !== 'object' || v === null || Array.isArray(v))) omitted.push([...path, k].join('.'));
    else out[k] = withoutSecrets(v, [...path, k], omitted).value;
  }
  return { value: out, omitted };
}

function redactValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactValue);
  return v !== undefined && v !== null && typeof v !== 'object' ? REDACTED : redactConfig(v);
}
