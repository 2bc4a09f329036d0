import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { removeTree } from './daemon';

export interface ContainersEnv {
  /** Environment for podman, buildah and skopeo: private config, storage, registries and auth. */
  env: NodeJS.ProcessEnv;
  dir: string;
  cleanup(): Promise<void>;
}

/**
 * An isolated containers/storage + containers.conf world for podman, buildah and skopeo, so the
 * tests neither see nor touch the machine's images. vfs works on any filesystem; cgroupfs and runc
 * work on hybrid cgroup hosts where crun refuses; no network namespace setup is needed.
 */
export async function makeContainersEnv(): Promise<ContainersEnv> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'e2e-containers-'));
  const p = (name: string) => path.join(dir, name);
  await mkdir(p('tmp'));
  await writeFile(
    p('containers.conf'),
    [
      '[containers]',
      // The defaults ask for more than unprivileged sandboxes grant.
      'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
      'netns = "none"',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      'runtime = "runc"',
      // File locks under tmp_dir instead of the machine-wide /dev/shm segment other podmans share.
      'lock_type = "file"',
      `tmp_dir = ${JSON.stringify(p('libpod'))}`,
      `image_copy_tmp_dir = ${JSON.stringify(p('tmp'))}`,
      '',
    ].join('\n'),
  );
  await writeFile(
    p('storage.conf'),
    ['[storage]', 'driver = "vfs"', `graphroot = ${JSON.stringify(p('root'))}`, `runroot = ${JSON.stringify(p('run'))}`, ''].join('\n'),
  );
  // No search registries: every reference in the tests is fully qualified.
  await writeFile(p('registries.conf'), 'unqualified-search-registries = []\n');
  await writeFile(p('auth.json'), '{}\n');
  await writeFile(p('policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }) + '\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONTAINERS_CONF: p('containers.conf'),
    CONTAINERS_STORAGE_CONF: p('storage.conf'),
    CONTAINERS_REGISTRIES_CONF: p('registries.conf'),
    REGISTRY_AUTH_FILE: p('auth.json'),
    TMPDIR: p('tmp'),
  };
  return { env, dir, cleanup: () => removeTree(dir) };
}

/** skopeo's global flag for the private signature policy made above. */
export function policyFlag(c: ContainersEnv): string {
  return `--policy=${path.join(c.dir, 'policy.json')}`;
}
