import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startContainerd, type Containerd } from '../helpers/containerd';
import { withRegistryLogs, type E2eRegistry } from '../helpers/e2e-registry';
import { CommandError, run } from '../helpers/exec';
import { umociImage } from '../helpers/images';
import { requireTools } from '../helpers/tools';
import { startAuthE2eRegistry } from '../auth/e2e-auth-registry';
import { tokenFor, USERS } from '../auth/helpers';

/**
 * How ctr reports a refused request: the status, or, when the refusal arrives while containerd is
 * still streaming the blob into the request, the pipe it was writing to.
 */
const REFUSED = /401|403|unauthori[sz]ed|denied|authorization|closed pipe/i;

const skip = requireTools(['containerd', 'ctr', 'umoci', 'busybox', 'tar'], { root: true });

describe('ctr against Berth with token auth', { skip, timeout: 300_000 }, () => {
  let registry: E2eRegistry | undefined;
  let containerd: Containerd | undefined;
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'e2e-auth-ctr-'));
    registry = await startAuthE2eRegistry('token');
    containerd = await startContainerd();
    const layout = path.join(work, 'layout');
    await umociImage(layout, 'v1', { message: 'ctr with credentials' });
    await run('tar', ['-C', layout, '-cf', path.join(work, 'layout.tar'), '.']);
  });
  after(async () => {
    await containerd?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const failure = async (args: string[], namespace?: string) => {
    try {
      await containerd!.ctr(args, { namespace });
    } catch (e) {
      if (e instanceof CommandError) return e.result.stderr;
      throw e;
    }
    assert.fail(`ctr ${args.join(' ')} should have failed`);
  };

  test('push and pull with --user; anonymous pull of public works, of private does not', () =>
    withRegistryLogs(registry, async () => {
      const priv = `${registry!.host}/private/ctr:v1`;
      const pub = `${registry!.host}/public/ctr:v1`;
      await containerd!.ctr(['images', 'import', '--base-name', `${registry!.host}/private/ctr`, path.join(work, 'layout.tar')]);
      await containerd!.ctr(['images', 'tag', priv, pub]);
      assert.match(await failure(['images', 'push', '--plain-http', priv]), REFUSED);
      assert.match(await failure(['images', 'push', '--plain-http', '--user', `alice:wrong`, priv]), REFUSED);
      await containerd!.ctr(['images', 'push', '--plain-http', '--user', `alice:${USERS.alice}`, priv]);
      await containerd!.ctr(['images', 'push', '--plain-http', '--user', `alice:${USERS.alice}`, pub]);
      // bob may pull public/* but not push there: a new tag needs a manifest PUT.
      await containerd!.ctr(['images', 'tag', priv, `${registry!.host}/public/ctr:bob`]);
      assert.match(await failure(['images', 'push', '--plain-http', '--user', `bob:${USERS.bob}`, `${registry!.host}/public/ctr:bob`]), REFUSED);
      const anon = await tokenFor(registry!.url, undefined, ['repository:public/ctr:pull']);
      const bobTag = await fetch(`${registry!.url}/v2/public/ctr/manifests/bob`, { headers: { authorization: `Bearer ${anon}` } });
      assert.equal(bobTag.status, 404, 'the tag was never written');
      const v1 = await fetch(`${registry!.url}/v2/public/ctr/manifests/v1`, { method: 'HEAD', headers: { authorization: `Bearer ${anon}` } });
      assert.equal(v1.status, 200);

      await containerd!.ctr(['images', 'pull', '--plain-http', '--user', `bob:${USERS.bob}`, priv], { namespace: 'fresh-bob' });
      await containerd!.ctr(['images', 'pull', '--plain-http', pub], { namespace: 'fresh-anon' });
      assert.match(await failure(['images', 'pull', '--plain-http', priv], 'fresh-anon2'), REFUSED);
    }));
});
