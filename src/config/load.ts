import { readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import type { ZodIssue } from 'zod';
import { CONFIG_PATH_ENV, envOverrides, selectStorageDriver, setPath } from './env';
import { ConfigError } from './errors';
import { defaultWorkers } from './cpu-limit';
import { configSchema, configSchemaFor, type Config } from './schema';

export { ConfigError } from './errors';

export interface LoadConfigOptions {
  /** The file named on the command line (`--config FILE`); it wins over REGISTRY_CONFIGURATION_PATH. */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Base for a relative config file path (default: the process's working directory). */
  cwd?: string;
  /** `http.workers`' default when neither the file nor the environment sets it (cpu-limit.ts). */
  cpus?: () => Promise<number>;
}

export interface LoadedConfig {
  config: Config;
  /** The absolute path of the YAML file read, if any. */
  file?: string;
  /** The keys as given, file and environment merged, before defaults: what was set, not derived. */
  input: Record<string, unknown>;
}

async function readYamlFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError(`config: cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const pos = err.linePos?.[0];
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    throw new ConfigError(`config: ${where}: YAML syntax error: ${err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`config: ${file}: the top level must be a mapping of keys`);
  return value as Record<string, unknown>;
}

function describeIssue(issue: ZodIssue, fromEnv: Map<string, string>): string {
  const base = issue.path.map(String);
  const paths =
    issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...base, k]) : [base];
  const message = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
  return paths
    .map((p) => {
      const key = p.length > 0 ? p.join('.') : '(top level)';
      // An entry of a list set from one variable (http.tls.ciphersuites.1) is that variable's too.
      const env = p.map((_, i) => fromEnv.get(p.slice(0, p.length - i).join('.'))).find((e) => e !== undefined);
      return `${key}${env ? ` (from ${env})` : ''}: ${message}`;
    })
    .join('; ');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Reads the optional YAML file, applies Distribution-style `REGISTRY_*` overrides, validates the
 * result against the one strict schema and returns it frozen. Every failure is a ConfigError whose
 * one-line message names the key.
 */
export async function loadConfigWithSource(opts: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = opts.env ?? {};
  // No file at all is fine: defaults and the environment.
  const given = opts.file || env[CONFIG_PATH_ENV] || undefined;
  const file = given === undefined ? undefined : path.resolve(opts.cwd ?? process.cwd(), given);
  const raw = file ? await readYamlFile(file) : {};

  const { storageDriver, overrides } = envOverrides(configSchema, env);
  if (storageDriver !== undefined) selectStorageDriver(configSchema, raw, storageDriver);
  const fromEnv = new Map<string, string>();
  for (const o of overrides) {
    setPath(raw, o.path, o.value);
    fromEnv.set(o.path.join('.'), o.env);
  }

  const parsed = configSchemaFor(await (opts.cpus ?? defaultWorkers)()).safeParse(raw);
  if (!parsed.success) throw new ConfigError(`config: ${parsed.error.issues.map((i) => describeIssue(i, fromEnv)).join('; ')}`);
  return { config: deepFreeze(parsed.data), file, input: raw };
}

export async function loadConfig(opts: LoadConfigOptions = {}): Promise<Config> {
  return (await loadConfigWithSource(opts)).config;
}
