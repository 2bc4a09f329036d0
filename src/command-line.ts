import { parseArgs } from 'node:util';
import { parseDuration } from './config/duration';
import { isCommandName, type CommandName } from './cli/usage';

/**
 * A command line Berth cannot run: printed with the usage of `command` (the overview when none
 * was recognised), exit 2.
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: CommandName,
  ) {
    super(message);
  }
}

export type Command =
  | { name: 'help'; topic?: CommandName }
  | { name: 'version' }
  | { name: 'serve'; config?: string }
  | { name: 'config check'; config?: string; showSecrets: boolean }
  /** cert and key: a client pair for a listener that requires one (http.tls.clientcas). */
  | { name: 'healthcheck'; config?: string; client?: { cert: string; key: string } }
  | { name: 'gc'; config?: string; dryRun: boolean; deleteUntagged: boolean; grace: number; json: boolean }
  | { name: 'check'; config?: string; repair: boolean; verifyDigests: boolean; json: boolean }
  /** From the configured store, or with `registry` from a running registry. */
  | { name: 'ls'; repository?: string; json: boolean; config?: string; registry?: string; user?: string; password?: string }
  /** A client of a running registry's insight API, or with `store` a reader of the configured store. */
  /** Dead letters of event delivery in the configured store: list them, send them again, or give them up. */
  | { name: 'events'; action: 'list' | 'retry' | 'discard'; endpoint?: string; segments: string[]; all: boolean; json: boolean; config?: string }
  | { name: 'insight'; image?: string; storage: boolean; json: boolean; registry?: string; user?: string; password?: string; wait: number; failOnSecrets: boolean; store: boolean; config?: string };

const DEFAULT_GC_GRACE = 3_600_000;
const DEFAULT_INSIGHT_WAIT = 60;

const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const;
const JSON_OPTION = { json: { type: 'boolean' } } as const;
const CREDENTIALS = { registry: { type: 'string' }, user: { type: 'string', short: 'u' }, password: { type: 'string', short: 'p' } } as const;
const OPTIONS = {
  serve: CONFIG_OPTION,
  config: { ...CONFIG_OPTION, 'show-secrets': { type: 'boolean' } },
  gc: { ...CONFIG_OPTION, ...JSON_OPTION, 'dry-run': { type: 'boolean' }, 'delete-untagged': { type: 'boolean' }, grace: { type: 'string' } },
  check: { ...CONFIG_OPTION, ...JSON_OPTION, repair: { type: 'boolean' }, 'verify-digests': { type: 'boolean' } },
  ls: { ...CONFIG_OPTION, ...JSON_OPTION, ...CREDENTIALS },
  healthcheck: { ...CONFIG_OPTION, cert: { type: 'string' }, key: { type: 'string' } },
  events: { ...CONFIG_OPTION, ...JSON_OPTION, all: { type: 'boolean' } },
  insight: { ...CONFIG_OPTION, ...JSON_OPTION, ...CREDENTIALS, wait: { type: 'string' }, 'fail-on-secrets': { type: 'boolean' }, storage: { type: 'boolean' }, store: { type: 'boolean' } },
} as const;

/**
 * Strict: an unknown flag or a stray argument is refused rather than ignored, since for `gc` a
 * misspelt `--dry-run` or a dropped `--config` would otherwise run a deleting collection, or one
 * on the wrong store. `positionals`: how many arguments the command takes at most.
 */
function parse<C extends keyof typeof OPTIONS>(command: C, args: readonly string[], positionals = 0) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: OPTIONS[command], strict: true, allowPositionals: true });
  } catch (e) {
    // parseArgs's own advice (`place it at the end of the command after '--'`) never applies here.
    throw new UsageError(`${command}: ${(e as Error).message.replace(/\. To specify a positional argument.*$/s, '')}`, command);
  }
  const extra = parsed.positionals.slice(positionals);
  if (extra.length > 0) throw new UsageError(`${command}: unexpected argument "${extra[0]}"`, command);
  return parsed;
}

function credentials(command: 'ls' | 'insight', v: { user?: string; password?: string }): void {
  if ((v.user === undefined) !== (v.password === undefined)) throw new UsageError(`${command}: --user and --password go together`, command);
}

function insightCommand(args: readonly string[]): Command {
  const { values: v, positionals } = parse('insight', args, 1);
  const storage = v.storage === true;
  const usage = (message: string) => new UsageError(`insight: ${message}`, 'insight');
  if (storage ? positionals.length !== 0 : positionals.length !== 1) throw usage(storage ? '--storage takes no image' : 'name one image');
  const store = v.store === true;
  if (store && (v.registry !== undefined || v.user !== undefined)) throw usage('--store reads the configured store: no --registry, --user or --password');
  if (!store && v.config !== undefined) throw usage('--config goes with --store');
  if (storage && !store && v.registry === undefined) throw usage('--storage needs --registry URL or --store');
  credentials('insight', v);
  if (v.wait !== undefined && !/^\d{1,6}$/.test(v.wait)) throw usage('--wait takes a number of seconds');
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

function gcCommand(args: readonly string[]): Command {
  const { values: v } = parse('gc', args);
  let grace = DEFAULT_GC_GRACE;
  if (v.grace !== undefined) {
    try {
      grace = parseDuration(v.grace);
    } catch (e) {
      throw new UsageError(`gc: --grace: ${(e as Error).message}`, 'gc');
    }
  }
  return { name: 'gc', config: v.config, dryRun: v['dry-run'] === true, deleteUntagged: v['delete-untagged'] === true, grace, json: v.json === true };
}

function lsCommand(args: readonly string[]): Command {
  const { values: v, positionals } = parse('ls', args, 1);
  if (v.registry !== undefined && v.config !== undefined) throw new UsageError('ls: --config reads a store, --registry asks a registry: name one', 'ls');
  if (v.registry === undefined && v.user !== undefined) throw new UsageError('ls: --user and --password go with --registry', 'ls');
  credentials('ls', v);
  return { name: 'ls', repository: positionals[0], json: v.json === true, config: v.config, registry: v.registry, user: v.user, password: v.password };
}

function configCommand(args: readonly string[]): Command {
  if (args[0] !== 'check') {
    const why = args[0] === undefined || args[0].startsWith('-') ? 'name a subcommand: check' : `unknown subcommand "${args[0]}"`;
    throw new UsageError(`config: ${why}`, 'config');
  }
  const { values: v } = parse('config', args.slice(1));
  return { name: 'config check', config: v.config, showSecrets: v['show-secrets'] === true };
}

function healthcheckCommand(args: readonly string[]): Command {
  const { values: v } = parse('healthcheck', args);
  if ((v.cert === undefined) !== (v.key === undefined)) throw new UsageError('healthcheck: --cert and --key go together', 'healthcheck');
  return { name: 'healthcheck', config: v.config, client: v.cert === undefined ? undefined : { cert: v.cert, key: v.key! } };
}

/** As notifications.endpoints[].name and the journal's segment names: nothing that leaves its directory. */
const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SEGMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

function eventsCommand(args: readonly string[]): Command {
  const action = args[0];
  if (action !== 'list' && action !== 'retry' && action !== 'discard') {
    const why = action === undefined || action.startsWith('-') ? 'name a subcommand: list, retry or discard' : `unknown subcommand "${action}"`;
    throw new UsageError(`events: ${why}`, 'events');
  }
  const { values: v, positionals } = parse('events', args.slice(1), action === 'list' ? 1 : Infinity);
  const [endpoint, ...segments] = positionals;
  if (endpoint !== undefined && !ENDPOINT_NAME.test(endpoint)) throw new UsageError(`events: "${endpoint}" is not an endpoint name`, 'events');
  const bad = segments.find((s) => !SEGMENT_NAME.test(s));
  if (bad !== undefined) throw new UsageError(`events: "${bad}" is not a segment name`, 'events');
  if (action === 'list') {
    if (v.all) throw new UsageError('events: --all goes with retry and discard', 'events');
    return { name: 'events', action, endpoint, segments: [], all: false, json: v.json === true, config: v.config };
  }
  if (v.json) throw new UsageError('events: --json goes with list', 'events');
  if (endpoint === undefined) throw new UsageError(`events: ${action} needs an endpoint`, 'events');
  // Never all by default: giving events up is for good.
  if ((segments.length > 0) === (v.all === true)) throw new UsageError(`events: ${action} needs the segments to act on, or --all (not both)`, 'events');
  return { name: 'events', action, endpoint, segments, all: v.all === true, json: false, config: v.config };
}

const COMMANDS: Record<Exclude<CommandName, 'help'>, (args: readonly string[]) => Command> = {
  serve: (args) => ({ name: 'serve', config: parse('serve', args).values.config }),
  config: configCommand,
  gc: gcCommand,
  check: (args) => {
    const { values: v } = parse('check', args);
    return { name: 'check', config: v.config, repair: v.repair === true, verifyDigests: v['verify-digests'] === true, json: v.json === true };
  },
  ls: lsCommand,
  healthcheck: healthcheckCommand,
  insight: insightCommand,
  events: eventsCommand,
};

function helpCommand(args: readonly string[]): Command {
  if (args.length > 1) throw new UsageError(`help: unexpected argument "${args[1]}"`, 'help');
  const topic = args[0];
  if (topic === undefined) return { name: 'help' };
  if (topic === '--help' || topic === '-h') return { name: 'help', topic: 'help' };
  if (!isCommandName(topic)) throw new UsageError(`help: unknown command "${topic}"`);
  return { name: 'help', topic };
}

/** Which command the arguments (after the program name) ask for, with its flags. */
export function parseCommandLine(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-V') {
    if (rest.length > 0) throw new UsageError(`--version: unexpected argument "${rest[0]}"`);
    return { name: 'version' };
  }
  if (first === 'help') return helpCommand(rest);
  // Before the command's flags are parsed: `berth gc --help --bogus` still helps.
  const named = first !== undefined && isCommandName(first) ? first : undefined;
  if (named === undefined && first !== undefined && !first.startsWith('-')) throw new UsageError(`unknown command "${first}"`);
  const args = named === undefined ? argv : rest;
  // Only before `--`: after it, `--help` would be an argument.
  const flags = args.indexOf('--') < 0 ? args : args.slice(0, args.indexOf('--'));
  if (flags.includes('--help') || flags.includes('-h')) return { name: 'help', topic: named };
  return named === undefined ? COMMANDS.serve(argv) : COMMANDS[named as Exclude<CommandName, 'help'>](rest);
}
