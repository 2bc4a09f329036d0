import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startE2eRegistry, type E2eRegistry } from '../helpers/e2e-registry';
import { writeHtpasswd } from './helpers';

export type AuthMode = 'token' | 'htpasswd';

/**
 * A Berth process on a fresh filesystem root with the README's example policy: `public/*` pulled by
 * anyone and pushed by alice; `private/*` for alice only. Users come from test/auth/helpers' USERS.
 */
export function startAuthE2eRegistry(mode: AuthMode = 'token'): Promise<E2eRegistry> {
  return startE2eRegistry(async (dir) => {
    const htpasswd = path.join(dir, 'htpasswd');
    await writeHtpasswd(htpasswd, 5);
    const config = path.join(dir, 'config.yml');
    await writeFile(
      config,
      [
        `storage: {filesystem: {rootdirectory: ${JSON.stringify(path.join(dir, 'root'))}}}`,
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
        '',
      ].join('\n'),
    );
    return ['--config', config];
  });
}
