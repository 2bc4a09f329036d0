import YAML from 'yaml';
import type { ZodTypeAny } from 'zod';
import { ConfigError } from './errors';
import { describe, type LeafKind } from './schema-walk';

export const ENV_PREFIX = 'REGISTRY_';
/** Names the config file; it is not a key. */
export const CONFIG_PATH_ENV = 'REGISTRY_CONFIGURATION_PATH';
/** `storage` sections that are settings shared by every driver rather than a driver (Distribution's list). */
const STORAGE_NON_DRIVER_KEYS = new Set(['delete', 'redirect', 'maintenance', 'cache', 'tag']);

export interface EnvOverride {
  env: string;
  path: string[];
  value: unknown;
}

type Raw = Record<string, unknown>;

function isPlainObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Finds the key path an env name (without the prefix) designates. Keys such as `rootdirectory` carry
 * no separator, so each level matches a key whose upper-case spelling is a prefix of what remains.
 */
function resolvePath(schema: ZodTypeAny, rest: string): { path: string[]; leaf: LeafKind } | null {
  const node = describe(schema);
  if (node.kind === 'leaf') return null;
  if (node.kind === 'record') {
    // A map entry: the remainder is the entry's key (lower case, as Distribution does).
    const sub = describe(node.value);
    return { path: [rest.toLowerCase()], leaf: sub.kind === 'leaf' ? sub.leaf : 'yaml' };
  }
  const keys = Object.keys(node.shape).sort((a, b) => b.length - a.length);
  for (const key of keys) {
    const upper = key.toUpperCase();
    if (rest === upper) {
      const sub = describe(node.shape[key]);
      return { path: [key], leaf: sub.kind === 'leaf' ? sub.leaf : 'yaml' };
    }
    if (rest.startsWith(upper + '_')) {
      const found = resolvePath(node.shape[key], rest.slice(upper.length + 1));
      if (found) return { path: [key, ...found.path], leaf: found.leaf };
    }
  }
  return null;
}

function coerce(env: string, path: string[], kind: LeafKind, text: string): unknown {
  const where = `${path.join('.')} (from ${env})`;
  switch (kind) {
    case 'string':
      return text;
    case 'boolean': {
      const t = text.trim().toLowerCase();
      if (t === 'true' || t === '1') return true;
      if (t === 'false' || t === '0') return false;
      throw new ConfigError(`${where}: expected true or false, got "${text}"`);
    }
    case 'number': {
      const t = text.trim();
      if (!/^-?\d+(\.\d+)?$/.test(t)) throw new ConfigError(`${where}: expected a number, got "${text}"`);
      return Number(t);
    }
    case 'yaml': {
      const doc = YAML.parseDocument(text);
      if (doc.errors.length > 0) throw new ConfigError(`${where}: not valid YAML or JSON: ${doc.errors[0].message.split('\n')[0]}`);
      return doc.toJS();
    }
  }
}

/** Reads the `REGISTRY_*` overrides, in a stable order, each resolved against the schema. */
export function envOverrides(schema: ZodTypeAny, env: Record<string, string | undefined>): { storageDriver?: string; overrides: EnvOverride[] } {
  let storageDriver: string | undefined;
  const overrides: EnvOverride[] = [];
  for (const name of Object.keys(env).sort()) {
    const text = env[name];
    if (!name.startsWith(ENV_PREFIX) || name === CONFIG_PATH_ENV || text === undefined) continue;
    const rest = name.slice(ENV_PREFIX.length);
    if (rest === 'STORAGE') {
      storageDriver = text.trim();
      continue;
    }
    const found = rest === '' ? null : resolvePath(schema, rest);
    if (!found) throw new ConfigError(`${name}: matches no configuration key`);
    overrides.push({ env: name, path: found.path, value: coerce(name, found.path, found.leaf, text) });
  }
  return { storageDriver, overrides };
}

/** `REGISTRY_STORAGE=<driver>` picks the driver as in Distribution: other drivers' sections are dropped. */
export function selectStorageDriver(schema: ZodTypeAny, raw: Raw, driver: string): void {
  const root = describe(schema);
  const storageNode = root.kind === 'object' && root.shape.storage ? describe(root.shape.storage) : null;
  if (!storageNode || storageNode.kind !== 'object') throw new ConfigError('REGISTRY_STORAGE: the schema has no storage section');
  const drivers = Object.keys(storageNode.shape).filter((k) => !STORAGE_NON_DRIVER_KEYS.has(k));
  if (!drivers.includes(driver))
    throw new ConfigError(`storage (from REGISTRY_STORAGE): unknown driver "${driver}", expected one of ${drivers.join(', ')}`);
  const storage = isPlainObject(raw.storage) ? raw.storage : {};
  for (const d of drivers) if (d !== driver) delete storage[d];
  if (!isPlainObject(storage[driver])) storage[driver] = {};
  raw.storage = storage;
}

/** Sets `value` at `path`, turning any non-object on the way (e.g. YAML's `inmemory:` null) into an object. */
export function setPath(raw: Raw, path: string[], value: unknown): void {
  let cur = raw;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(cur[key])) cur[key] = {};
    cur = cur[key] as Raw;
  }
  cur[path[path.length - 1]] = value;
}
