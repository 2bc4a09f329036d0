import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startContainerd, type Containerd } from '../helpers/containerd';
import { startE2eRegistry, withRegistryLogs, type E2eRegistry } from '../helpers/e2e-registry';
import { run } from '../helpers/exec';
import { OCI_MANIFEST, umociImage, type LayoutManifest } from '../helpers/images';
import { assertBlobsServed, fetchManifest } from '../helpers/registry-client';
import { requireTools } from '../helpers/tools';

const skip = requireTools(['containerd', 'ctr', 'containerd-shim-runc-v2', 'runc', 'umoci', 'busybox', 'tar'], { root: true });

interface AccessLine {
  method: string;
  url: string;
  status: number;
  userAgent: string;
}

/** Berth's JSON access-log lines for requests under /v2/<name>/. */
function requestsFor(logs: string, name: string): AccessLine[] {
  const lines: AccessLine[] = [];
  for (const line of logs.split('\n')) {
    try {
      const rec = JSON.parse(line) as Partial<AccessLine>;
      if (typeof rec.method === 'string' && typeof rec.url === 'string' && rec.url.startsWith(`/v2/${name}/`))
        lines.push({ method: rec.method, url: rec.url, status: Number(rec.status), userAgent: String(rec.userAgent ?? '') });
    } catch {
      // not a log record
    }
  }
  return lines;
}

describe('ctr (containerd) against Berth', { skip, timeout: 300_000 }, () => {
  let registry: E2eRegistry | undefined;
  let containerd: Containerd | undefined;
  let work: string;
  let image: LayoutManifest;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'e2e-ctr-'));
    registry = await startE2eRegistry();
    containerd = await startContainerd();
    const layout = path.join(work, 'layout');
    image = await umociImage(layout, 'v1', { message: 'hello from containerd via berth' });
    await run('tar', ['-C', layout, '-cf', path.join(work, 'layout.tar'), '.']);
  });

  after(async () => {
    await containerd?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const ref = () => `${registry!.host}/e2e/ctr:v1`;

  test('ctr push sends each blob as POST then one monolithic PUT', () =>
    withRegistryLogs(registry, async () => {
      // Imported content has no source repository, so containerd cannot mount: it must upload.
      await containerd!.ctr(['images', 'import', '--base-name', `${registry!.host}/e2e/ctr`, path.join(work, 'layout.tar')]);
      await containerd!.ctr(['images', 'push', '--plain-http', ref()]);

      const served = await fetchManifest(registry!.url, 'e2e/ctr', 'v1');
      assert.equal(served.digest, image.digest);
      assert.equal(served.contentType, OCI_MANIFEST);
      assert.deepEqual(served.body, image.bytes);
      assert.equal(await assertBlobsServed(registry!.url, 'e2e/ctr', served.body), 2);

      const requests = requestsFor(registry!.logs(), 'e2e/ctr');
      const uploads = requests.filter((r) => r.url.includes('/blobs/uploads/'));
      assert.equal(uploads.filter((r) => r.method === 'POST' && r.status === 202).length, 2, JSON.stringify(uploads));
      assert.equal(uploads.filter((r) => r.method === 'PUT' && r.status === 201 && /[?&]digest=/.test(r.url)).length, 2);
      assert.equal(uploads.filter((r) => r.method === 'PATCH').length, 0);
    }));

  test('ctr pull into a fresh namespace downloads everything, then runs it', () =>
    withRegistryLogs(registry, async () => {
      const ns = { namespace: 'e2e-pull' };
      await containerd!.ctr(['images', 'pull', '--plain-http', ref()], ns);
      const listed = await containerd!.ctr(['images', 'ls'], ns);
      const row = listed.split('\n').find((l) => l.startsWith(ref() + ' '));
      assert.ok(row, listed);
      assert.equal(row.split(/\s+/)[2], image.digest);

      // containerd verifies each digest as it commits content; presence means verified bytes.
      const content = await containerd!.ctr(['content', 'ls', '--quiet'], ns);
      for (const d of [image.digest, image.json.config!.digest, image.json.layers![0].digest]) assert.ok(content.includes(d), `${d} not in\n${content}`);

      const layer = image.json.layers![0].digest;
      const fetched = requestsFor(registry!.logs(), 'e2e/ctr').filter(
        (r) => r.method === 'GET' && r.url === `/v2/e2e/ctr/blobs/${layer}` && r.status === 200 && r.userAgent.startsWith('containerd'),
      );
      assert.equal(fetched.length, 1, 'containerd should have downloaded the layer once');

      const out = await containerd!.ctr(['run', '--rm', ref(), `e2e-${process.pid}`], ns);
      assert.equal(out, 'hello from containerd via berth\n');
    }));
});
