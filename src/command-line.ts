import { parseArgs } from 'node:util';
import { parseDuration } from './config/duration';

export const USAGE = `usage: berth [serve] [--config FILE]
       berth config check [--config FILE]
       berth gc [--dry-run] [--delete-untagged] [--grace DURATION] [--config FILE]
       berth check [--repair] [--verify-digests] [--json] [--config FILE]
       berth healthcheck [--cert FILE --key FILE] [--config FILE]
       berth insight IMAGE [--json] [--registry URL] [--user U --password P] [--wait SECONDS] [--fail-on-secrets]
       berth insight REPOSITORY[:TAG|@DIGEST] --store [--config FILE] [--json] [--wait SECONDS] [--fail-on-secrets]
       berth insight --storage (--registry URL [--user U --password P] | --store [--config FILE]) [--json]

The config file may also be named by REGISTRY_CONFIGURATION_PATH; REGISTRY_* variables override its keys.`;

/** A command line that names no command or flag Berth knows: print it with the usage and exit 2. */
export class UsageError extends Error {}

export type Command =
  | { name: 'help' }
  | { name: 'serve' | 'config check'; config?: string }
  /** cert and key: a client pair for a listener that requires one (http.tls.clientcas). */
  | { name: 'healthcheck'; config?: string; client?: { cert: string; key: string } }
  | { name: 'gc'; config?: string; dryRun: boolean; deleteUntagged: boolean; grace: number }
  | { name: 'check'; config?: string; repair: boolean; verifyDigests: boolean; json: boolean }
  /** A client of a running registry's insight API, or with `store` a reader of the configured store. */
  | { name: 'insight'; image?: string; storage: boolean; json: boolean; registry?: string; user?: string; password?: string; wait: number; failOnSecrets: boolean; store: boolean; config?: string };

const DEFAULT_GC_GRACE = 3_600_000;

const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const;
const GC_OPTIONS = {
  ...CONFIG_OPTION,
  'dry-run': { type: 'boolean' },
  'delete-untagged': { type: 'boolean' },
  grace: { type: 'string' },
} as const;
const CHECK_OPTIONS = {
  ...CONFIG_OPTION,
  repair: { type: 'boolean' },
  'verify-digests': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

const HEALTHCHECK_OPTIONS = {
  ...CONFIG_OPTION,
  cert: { type: 'string' },
  key: { type: 'string' },
} as const;

const INSIGHT_OPTIONS = {
  json: { type: 'boolean' },
  registry: { type: 'string' },
  user: { type: 'string', short: 'u' },
  password: { type: 'string', short: 'p' },
  wait: { type: 'string' },
  'fail-on-secrets': { type: 'boolean' },
  storage: { type: 'boolean' },
  store: { type: 'boolean' },
  ...CONFIG_OPTION,
} as const;
const DEFAULT_INSIGHT_WAIT = 60;

function insightCommand(args: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: INSIGHT_OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(`insight: ${(e as Error).message}`);
  }
  const { values: v, positionals } = parsed;
  const storage = v.storage === true;
  if (storage ? positionals.length !== 0 : positionals.length !== 1) throw new UsageError(storage ? 'insight: --storage takes no image' : 'insight: name one image');
  const store = v.store === true;
  if (store && (v.registry !== undefined || v.user !== undefined)) throw new UsageError('insight: --store reads the configured store: no --registry, --user or --password');
  if (!store && v.config !== undefined) throw new UsageError('insight: --config goes with --store');
  if (storage && !store && v.registry === undefined) throw new UsageError('insight: --storage needs --registry URL or --store');
  if ((v.user === undefined) !== (v.password === undefined)) throw new UsageError('insight: --user and --password go together');
  if (v.wait !== undefined && !/^\d{1,6}$/.test(v.wait)) throw new UsageError('insight: --wait takes a number of seconds');
  return {
    name: 'insight',
    image: positionals[0],
    storage,
    json: v.json === true,
    registry: v.registry,
    user: v.user,
    password: v.password,
    wait: v.wait === undefined ? DEFAULT_INSIGHT_WAIT : Number(v.wait),
    failOnSecrets: v['fail-on-secrets'] === true,
    store,
    config: v.config,
  };
}

/**
 * Strict: an unknown flag or a stray argument is refused rather than ignored, since for `gc` a
 * misspelt `--dry-run` or a dropped `--config` would otherwise run a deleting collection, or one
 * on the wrong store.
 */
function flags<O extends typeof CONFIG_OPTION | typeof GC_OPTIONS | typeof CHECK_OPTIONS | typeof HEALTHCHECK_OPTIONS>(command: string, args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
}

/** Which command the arguments (after the program name) ask for, with its flags. */
export function parseCommandLine(argv: readonly string[]): Command {
  if (argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') return { name: 'help' };
  if (argv[0] === 'gc') {
    const v = flags('gc', argv.slice(1), GC_OPTIONS);
    let grace = DEFAULT_GC_GRACE;
    if (v.grace !== undefined) {
      try {
        grace = parseDuration(v.grace);
      } catch (e) {
        throw new UsageError(`gc: --grace: ${(e as Error).message}`);
      }
    }
    return { name: 'gc', config: v.config, dryRun: v['dry-run'] === true, deleteUntagged: v['delete-untagged'] === true, grace };
  }
  if (argv[0] === 'check') {
    const v = flags('check', argv.slice(1), CHECK_OPTIONS);
    return { name: 'check', config: v.config, repair: v.repair === true, verifyDigests: v['verify-digests'] === true, json: v.json === true };
  }
  if (argv[0] === 'config') {
    if (argv[1] !== 'check') throw new UsageError(`unknown command "config ${argv[1] ?? ''}"`);
    return { name: 'config check', config: flags('config check', argv.slice(2), CONFIG_OPTION).config };
  }
  if (argv[0] === 'healthcheck') {
    const v = flags('healthcheck', argv.slice(1), HEALTHCHECK_OPTIONS);
    if ((v.cert === undefined) !== (v.key === undefined)) throw new UsageError('healthcheck: --cert and --key go together');
    return { name: 'healthcheck', config: v.config, client: v.cert === undefined ? undefined : { cert: v.cert, key: v.key! } };
  }
  if (argv[0] === 'insight') return insightCommand(argv.slice(1));
  if (argv[0] === 'serve') return { name: 'serve', config: flags('serve', argv.slice(1), CONFIG_OPTION).config };
  if (argv[0] !== undefined && !argv[0].startsWith('-')) throw new UsageError(`unknown command "${argv[0]}"`);
  return { name: 'serve', config: flags('serve', argv, CONFIG_OPTION).config };
}
