import path from 'node:path';
import { startE2eRegistry, type E2eRegistry } from '../helpers/e2e-registry';
import { writeAuthE2eConfig } from '../auth/e2e-auth-registry';

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
  const registry = await startE2eRegistry((dir) => {
    root = path.join(dir, 'root');
    return writeAuthE2eConfig(dir, mode === 'token' ? 'token' : 'htpasswd', { top: ['insight: {pollinterval: 200ms}'], access: ['    catalog: {users: [alice]}'] });
  });
  return { ...registry, root };
}
