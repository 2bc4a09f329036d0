import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseDigest } from '../../src/oci/digest';
import { paths } from '../../src/oci/paths';
import { startInsightRegistry, type InsightRegistry } from './insight-server';
import { pushImage, Pusher, type PushedImage } from './images';

interface Page {
  layer: { index: number; digest: string; mediaType: string };
  status: string;
  entries: Array<{ path: string; type: string; size: number; mode: number; uid: number; gid: number; linkTarget: string | null; digest: string | null }>;
  next: string | null;
}

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string; detail?: unknown }> {
  const body = (await res.json()) as { errors: Array<{ code: string; message: string; detail?: unknown }> };
  return { status: res.status, ...body.errors[0] };
}

describe('insight: a layer file list, paged', () => {
  let reg: InsightRegistry;
  let p: Pusher;
  let image: PushedImage;
  before(async () => {
    reg = await startInsightRegistry({ manual: true });
    p = new Pusher(reg.url);
    image = await pushImage(p, 'files/app', '1.0', {
      layers: [
        [
          { name: 'bin/' },
          { name: 'bin/sh', content: 'shell' },
          { name: 'bin/bash', type: 'symlink', linkname: 'sh' },
          { name: 'etc/' },
          { name: 'etc/passwd', content: 'root:x:0:0' },
          { name: 'bin/sh', content: 'shell, again' },
          { name: 'tmp/' },
        ],
        [{ name: 'etc/.wh.passwd', content: '' }],
      ],
    });
  });
  after(() => reg.close());

  const files = (query: string, layer = 0, reference = '1.0') => p.get(`/v2/files/app/_berth/insight/${reference}/layers/${layer}/files${query}`);

  test('a layer not analysed yet is queued: 202 pending', async () => {
    const res = await files('');
    assert.equal(res.status, 202);
    const page = (await res.json()) as Page;
    assert.equal(page.status, 'pending');
    assert.deepEqual(page.layer, { index: 0, digest: image.layers[0].digest, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
    assert.ok((await reg.analysis!.enqueued()).includes(image.layers[0].digest));
    await p.get('/v2/files/app/_berth/insight/1.0');
    await reg.analysis!.drain();
  });

  test('n=2 walks the whole list through Link, in tar order, repeated paths included', async () => {
    const all = (await (await files('')).json()) as Page;
    assert.deepEqual(
      all.entries.map((e) => [e.path, e.type]),
      [['bin', 'dir'], ['bin/sh', 'file'], ['bin/bash', 'symlink'], ['etc', 'dir'], ['etc/passwd', 'file'], ['bin/sh', 'file'], ['tmp', 'dir']],
    );
    assert.deepEqual(all.entries[2], { path: 'bin/bash', type: 'symlink', size: 0, mode: 0o777 & all.entries[2].mode, uid: 0, gid: 0, linkTarget: 'sh', digest: null });
    assert.match(String(all.entries[1].digest), /^sha256:[0-9a-f]{64}$/);
    assert.equal(all.next, null);
    const seen: string[] = [];
    let next: string | null = `/v2/files/app/_berth/insight/1.0/layers/0/files?n=2`;
    let pages = 0;
    while (next !== null) {
      const res = await p.get(next);
      assert.equal(res.status, 200);
      const page = (await res.json()) as Page;
      const link = res.headers.get('link');
      assert.equal(link === null ? null : link.slice(1, link.indexOf('>')), page.next);
      if (link !== null) assert.match(link, /^<\/v2\/files\/app\/_berth\/insight\/1\.0\/layers\/0\/files\?n=2&last=[^&]+&at=\d+>; rel="next"$/);
      seen.push(...page.entries.map((e) => e.path));
      next = page.next;
      pages++;
      assert.ok(pages < 10);
    }
    assert.deepEqual(seen, all.entries.map((e) => e.path));
    assert.equal(pages, 4);
  });

  test('last alone, last beyond the end, and the whiteout layer', async () => {
    const after = (await (await files('?last=etc/passwd')).json()) as Page;
    assert.deepEqual(after.entries.map((e) => e.path), ['bin/sh', 'tmp']);
    const beyond = await files('?last=zzz/not-there');
    assert.equal(beyond.status, 200);
    assert.deepEqual(((await beyond.json()) as Page).entries, []);
    assert.equal(beyond.headers.get('link'), null);
    const wh = (await (await files('', 1)).json()) as Page;
    assert.deepEqual(wh.entries.map((e) => [e.path, e.type]), [['etc/passwd', 'whiteout']]);
    const byDigest = await files('?n=1', 0, image.manifest.digest);
    assert.equal(byDigest.status, 200);
  });

  test('bad n, at, last and layer index: 400 with a clear error', async () => {
    for (const [query, layer] of [['?n=-1', '0'], ['?n=abc', '0'], ['?at=x', '0'], ['?last=', '0'], ['?at=3&last=bin', '0'], ['', 'x'], ['', '2']] as const) {
      const res = await p.get(`/v2/files/app/_berth/insight/1.0/layers/${layer}/files${query}`);
      const e = await errorOf(res);
      assert.equal(e.status, 400, `${layer} ${query}: ${JSON.stringify(e)}`);
      assert.equal(e.code, 'UNSUPPORTED');
    }
    const range = await errorOf(await files('', 5));
    assert.equal(range.message, 'layer 5 is out of range: the image has 2 layers');
    assert.equal((await errorOf(await files('', 0, 'nope'))).code, 'MANIFEST_UNKNOWN');
  });

  test('a damaged stored file list: UNAVAILABLE naming the layer, for the files and the report, never a bare 500', async () => {
    const damaged = await pushImage(p, 'files/damaged', 'v1', { layers: [[{ name: 'a', content: 'aaa' }], [{ name: 'b', content: 'bbb' }]] });
    // Analysed, but no report asked yet: the report must merge the damaged list, not a cached merge.
    await reg.analysis!.drain();
    const list = paths.insightFileList(parseDigest(damaged.layers[1].digest));
    await reg.driver.putContent(list, Buffer.from('not gzip at all'));
    const page = await errorOf(await p.get('/v2/files/damaged/_berth/insight/v1/layers/1/files'));
    assert.equal(page.status, 503);
    assert.equal(page.code, 'UNAVAILABLE');
    assert.match(page.message, new RegExp(`^the stored analysis of layer 1 \\(${damaged.layers[1].digest}\\) is damaged: `));
    assert.deepEqual(page.detail, { cause: 'file-list-corrupt' });
    const report = await errorOf(await p.get('/v2/files/damaged/_berth/insight/v1'));
    assert.equal(report.status, 503);
    assert.deepEqual(report.detail, { cause: 'file-list-corrupt' });
    // Removing the layer's analysis has it analysed again.
    await reg.driver.delete(paths.insightLayerDir(parseDigest(damaged.layers[1].digest)));
    assert.equal((await p.get('/v2/files/damaged/_berth/insight/v1')).status, 202);
    await reg.analysis!.drain();
    assert.equal((await p.get('/v2/files/damaged/_berth/insight/v1')).status, 200);
  });
});
