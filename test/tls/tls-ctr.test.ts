import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startContainerd, type Containerd } from '../helpers/containerd';
import { run } from '../helpers/exec';
import { umociImage, type LayoutManifest } from '../helpers/images';
import { requireTools } from '../helpers/tools';
import { tlsFixture, type TlsFixture } from './tls-fixture';

const skip = requireTools(['containerd', 'ctr', 'umoci', 'busybox', 'tar'], { root: true });

describe('ctr (containerd) over HTTPS with its hosts configuration', { skip, timeout: 300_000 }, () => {
  let tls: TlsFixture;
  let containerd: Containerd | undefined;
  let image: LayoutManifest;
  let archive: string;

  before(async () => {
    tls = await tlsFixture('berth-tls-ctr-');
    containerd = await startContainerd();
    const layout = path.join(tls.work, 'layout');
    image = await umociImage(layout, 'v1', { message: 'hello over tls' });
    archive = path.join(tls.work, 'layout.tar');
    await run('tar', ['-C', layout, '-cf', archive, '.']);
  });
  after(async () => {
    await containerd?.stop();
    await tls?.cleanup();
  });

  /**
   * A `--hosts-dir` whose hosts.toml sends `host` over HTTPS, trusting the CA (unless `trust` is
   * 'none') and presenting a client pair (with 'client').
   */
  async function hostsDir(name: string, host: string, trust: 'none' | 'ca' | 'client'): Promise<string> {
    const dir = path.join(tls.work, name);
    await mkdir(path.join(dir, host), { recursive: true });
    const lines = [`server = "https://${host}"`, '', `[host."https://${host}"]`, '  capabilities = ["pull", "resolve", "push"]'];
    if (trust !== 'none') lines.push(`  ca = ${JSON.stringify(path.join(tls.work, 'ca.pem'))}`);
    if (trust === 'client') {
      const pair = await tls.client(`ctr ${name}`);
      await writeFile(path.join(dir, 'client.crt'), pair.certPem);
      await writeFile(path.join(dir, 'client.key'), pair.keyPem);
      lines.push(`  client = [[${JSON.stringify(path.join(dir, 'client.crt'))}, ${JSON.stringify(path.join(dir, 'client.key'))}]]`);
    }
    await writeFile(path.join(dir, host, 'hosts.toml'), lines.join('\n') + '\n');
    return dir;
  }

  const ctr = (args: string[], namespace?: string) => containerd!.ctr(args, { namespace });

  test('push and pull verified against the CA in hosts.toml; with mTLS the client pair is needed', async () => {
    const host = `127.0.0.1:${(await tls.start({ mutual: true })).port}`;
    const ref = `${host}/tls/ctr:v1`;
    await ctr(['images', 'import', '--base-name', `${host}/tls/ctr`, archive]);
    const noClient = await hostsDir('hosts-no-client', host, 'ca');
    await assert.rejects(ctr(['images', 'push', '--hosts-dir', noClient, ref]), /certificate required|bad certificate|tls|remote error/i);

    const withClient = await hostsDir('hosts-client', host, 'client');
    await ctr(['images', 'push', '--hosts-dir', withClient, ref]);
    await ctr(['images', 'pull', '--hosts-dir', withClient, ref], 'tls-pull');
    const listed = await ctr(['images', 'ls'], 'tls-pull');
    const row = listed.split('\n').find((l) => l.startsWith(ref + ' '));
    assert.ok(row, listed);
    assert.equal(row.split(/\s+/)[2], image.digest);
  });

  test('without the CA the registry is not trusted', async () => {
    const host = `127.0.0.1:${(await tls.start()).port}`;
    const untrusted = await hostsDir('hosts-untrusted', host, 'none');
    await assert.rejects(ctr(['images', 'pull', '--hosts-dir', untrusted, `${host}/tls/none:v1`], 'tls-untrusted'), /x509|certificate/i);
  });
});
