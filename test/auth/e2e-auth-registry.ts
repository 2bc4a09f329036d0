import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startE2eRegistry, type E2eRegistry } from '../helpers/e2e-registry';
import { writeHtpasswd } from './helpers';

export type AuthMode = 'token' | 'htpasswd';

/**
 * Writes the README's example policy into `dir`: `public/*` pulled by anyone and pushed by alice;
 * `private/*` for alice, pulled by bob; users from test/auth/helpers' USERS, the store under
 * `dir/root`. `top` adds top-level lines, `access` lines under `accesscontrol:`. Returns the
 * arguments that start Berth on it.
 */
export async function writeAuthE2eConfig(dir: string, mode: AuthMode, extra: { top?: string[]; access?: string[] } = {}): Promise<string[]> {
  const htpasswd = path.join(dir, 'htpasswd');
  await writeHtpasswd(htpasswd, 5);
  const config = path.join(dir, 'config.yml');
  await writeFile(
    config,
    [
      `storage: {filesystem: {rootdirectory: ${JSON.stringify(path.join(dir, 'root'))}}}`,
      ...(extra.top ?? []),
      'auth:',
      `  htpasswd: {path: ${JSON.stringify(htpasswd)}}`,
      ...(mode === 'token' ? ['  token: {service: berth, issuer: berth}'] : []),
      '  accesscontrol:',
      '    repositories:',
      '      "public/**":',
      '        anonymouspolicy: [pull]',
      '        policies: [{users: [alice], actions: [pull, push, delete]}]',
      '      "private/**":',
      '        policies: [{users: [alice], actions: [pull, push, delete]}, {users: [bob], actions: [pull]}]',
      ...(extra.access ?? []),
      '',
    ].join('\n'),
  );
  return ['--config', config];
}

/** A Berth process on a fresh filesystem root with the README's example policy (writeAuthE2eConfig). */
export function startAuthE2eRegistry(mode: AuthMode = 'token'): Promise<E2eRegistry> {
  return startE2eRegistry((dir) => writeAuthE2eConfig(dir, mode));
}
