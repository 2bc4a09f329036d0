import { configSchema, type Config } from '../config/schema';
import { derivedValues } from '../config/derived';
import { withoutSecrets } from '../config/redact';
import type { LoadedConfig } from '../config/load';

export interface PrintedConfig {
  /** JSON that `berth serve --config` (and `config check`) accepts as is. */
  stdout: string;
  /** For the operator: the file read, what was derived, what was left out. */
  stderr: string;
}

/**
 * The effective configuration as configuration: defaults filled in, but nothing a reader could
 * not feed back. `storage.driver` is the schema's own summary of which section is present; the
 * filesystem section it fills in beside another driver would be a second driver; `http.workers`
 * left unset is this machine's CPU count, which another machine should work out for itself.
 */
function asConfiguration(config: Config, input: Record<string, unknown>): Record<string, unknown> {
  const { driver, filesystem, ...storage } = config.storage;
  const http: Record<string, unknown> = { ...config.http };
  const givenHttp = input.http as Record<string, unknown> | undefined;
  if (givenHttp?.workers === undefined) delete http.workers;
  return { ...config, storage: driver === 'filesystem' ? { filesystem, ...storage } : storage, http };
}

/** What `berth config check` prints, split between its two streams. */
export function printConfig(loaded: LoadedConfig, showSecrets: boolean): PrintedConfig {
  const effective = asConfiguration(loaded.config, loaded.input);
  const { value, omitted } = showSecrets ? { value: effective, omitted: [] } : withoutSecrets(effective);
  const lines = [`config: ok${loaded.file ? ` (${loaded.file})` : ' (no file: defaults and environment)'}`];
  const derived = derivedValues(loaded.config, loaded.input);
  if (derived.length > 0) {
    lines.push('derived (worked out by Berth when it starts; not configuration):');
    for (const d of derived) lines.push(`  ${d.key}: ${d.value} (${d.why})`);
  }
  if (omitted.length > 0) {
    lines.push('left out of the printed configuration (secrets; --show-secrets prints them):');
    for (const key of omitted) lines.push(`  ${key}`);
    // Some keys need their secret beside them (a mirror's username its password; s3 http.secret).
    const parsed = configSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      lines.push(`without them the printed configuration does not load (${issue.path.join('.')}: ${issue.message}): put them back, or use --show-secrets`);
    }
  }
  return { stdout: JSON.stringify(value, null, 2) + '\n', stderr: lines.join('\n') + '\n' };
}
