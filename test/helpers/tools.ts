import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';

// sbin directories hold dockerd and runc but are not on every user's PATH.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of an executable named `name`, or undefined when none is installed. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The reason tests needing `names` cannot run here, or false when they can; pass it as node:test's
 * `skip` option. CI must install everything the end-to-end tests use, so there a missing tool
 * (or not being root, which the daemons need) throws instead of skipping.
 */
export function requireTools(names: readonly string[], opts: { root?: boolean } = {}): string | false {
  const missing = names.filter((n) => findTool(n) === undefined);
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`not installed: ${missing.join(', ')}`);
  if (opts.root && process.getuid?.() !== 0) problems.push('must run as root');
  if (problems.length === 0) return false;
  const reason = problems.join('; ');
  if (process.env.CI) throw new Error(`end-to-end prerequisites missing in CI (${reason}); .ci/run must install them`);
  return reason;
}

/** Like requireTools for one tool, returning its path; throws (in and out of CI) when it is missing. */
export function requireTool(name: string): string {
  const found = findTool(name);
  if (found === undefined) {
    const ci = process.env.CI ? '; .ci/run must install it' : '';
    throw new Error(`${name} is not installed${ci}`);
  }
  return found;
}
