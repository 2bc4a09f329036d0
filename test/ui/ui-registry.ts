import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startE2eRegistry, type E2eRegistry } from '../helpers/e2e-registry';
import { writeHtpasswd } from '../auth/helpers';

export interface UiRegistry extends E2eRegistry {
  /** The filesystem root of its store. */
  root: string;
}

/**
 * A Berth process for the browser tests, on a fresh filesystem store: `public/**` pulled by
 * anyone, `private/**` by alice only, who may push and delete both and sees the whole catalog.
 * Users and passwords are test/auth/helpers' USERS. token: the built-in token server; basic: htpasswd.
 */
export async function startUiRegistry(mode: 'token' | 'basic'): Promise<UiRegistry> {
  let root = '';
  const registry = await startE2eRegistry(async (dir) => {
    root = path.join(dir, 'root');
    const htpasswd = path.join(dir, 'htpasswd');
    await writeHtpasswd(htpasswd, 5);
    const config = path.join(dir, 'config.yml');
    await writeFile(
      config,
      [
        `storage: {filesystem: {rootdirectory: ${JSON.stringify(root)}}}`,
        'insight: {pollinterval: 200ms}',
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
        '    catalog: {users: [alice]}',
        '',
      ].join('\n'),
    );
    return ['--config', config];
  });
  return { ...registry, root };
}
