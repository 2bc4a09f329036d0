import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestEntry } from '../unit/insight/layers';
import { startInsightRegistry, type InsightRegistry } from './insight-server';
import { bytes, pushImage, Pusher, type PushedImage } from './images';

interface Child {
  name: string;
  path: string;
  type: string;
  size: number;
  entries?: number;
  children?: number;
  layer: number;
  mode?: number;
  linkTarget?: string;
  opaque?: true;
  hidden?: true;
}
interface DirPage {
  status: string;
  dir: string;
  total: number;
  entries: Child[];
  next: string | null;
  hiddenMarked?: boolean;
}

/**
 * Layer 0 ships app/ (big.bin, keep.txt, sub/a.txt), etc/ (conf, old) and a symlink; layer 1
 * deletes app/big.bin and adds app/new.txt; layer 2 makes etc/ opaque and adds etc/other; layer 3
 * replaces the directory app/sub with a file.
 */
const LAYERS: TestEntry[][] = [
  [
    { name: 'app/' },
    { name: 'app/big.bin', content: bytes(10_000) },
    { name: 'app/keep.txt', content: bytes(100) },
    { name: 'app/sub/a.txt', content: bytes(5) },
    { name: 'etc/' },
    { name: 'etc/conf', content: bytes(50) },
    { name: 'etc/old', content: bytes(7) },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
  ],
  [
    { name: 'app/.wh.big.bin', content: '' },
    { name: 'app/new.txt', content: bytes(200) },
  ],
  [
    { name: 'etc/.wh..wh..opq', content: '' },
    { name: 'etc/other', content: bytes(30) },
  ],
  [{ name: 'app/sub', content: bytes(3) }],
];

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
  return { status: res.status, ...body.errors[0] };
}

const brief = (page: DirPage) => page.entries.map((c) => [c.name, c.type, c.size, ...(c.hidden ? ['hidden'] : [])]);

describe('insight: directory listings of a layer and of the final filesystem', () => {
  let reg: InsightRegistry;
  let p: Pusher;
  let image: PushedImage;
  before(async () => {
    reg = await startInsightRegistry({ manual: true });
    p = new Pusher(reg.url);
    image = await pushImage(p, 'dirs/app', '1.0', { layers: LAYERS });
  });
  after(() => reg.close());

  const layerDir = async (layer: number, query: string) => {
    const res = await p.get(`/v2/dirs/app/_berth/insight/1.0/layers/${layer}/files${query}`);
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as DirPage;
  };
  const finalDir = async (query: string) => {
    const res = await p.get(`/v2/dirs/app/_berth/insight/1.0/files${query}`);
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as DirPage;
  };

  test('the final filesystem of an image not analysed yet: 202 pending, its layers queued', async () => {
    const res = await p.get('/v2/dirs/app/_berth/insight/1.0/files?dir=app');
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('retry-after'), '2');
    const body = (await res.json()) as { status: string; pending: Array<{ index: number }> };
    assert.equal(body.status, 'pending');
    assert.deepEqual(body.pending.map((l) => l.index), [0, 1, 2, 3]);
    await reg.analysis!.drain();
  });

  test("a layer's directory: its children by name, a directory with its total bytes and entries, what later layers hid marked", async () => {
    const root = await layerDir(0, '?dir=');
    assert.equal(root.dir, '.');
    assert.equal(root.total, 3);
    assert.equal(root.hiddenMarked, true);
    assert.deepEqual(brief(root), [['app', 'dir', 10_105], ['bin', 'dir', 0], ['etc', 'dir', 57]]);
    assert.deepEqual([root.entries[0].entries, root.entries[0].children], [4, 3]);
    const app = await layerDir(0, '?dir=/app/');
    assert.equal(app.dir, 'app');
    assert.deepEqual(brief(app), [['big.bin', 'file', 10_000, 'hidden'], ['keep.txt', 'file', 100], ['sub', 'dir', 5, 'hidden']]);
    assert.deepEqual(brief(await layerDir(0, '?dir=app/sub')), [['a.txt', 'file', 5, 'hidden']]);
    assert.equal(app.entries[1].path, 'app/keep.txt');
    assert.equal(app.entries[1].mode, 0o644);
    assert.deepEqual(brief(await layerDir(0, '?dir=etc')), [['conf', 'file', 50, 'hidden'], ['old', 'file', 7, 'hidden']]);
    const bin = await layerDir(0, '?dir=bin');
    assert.deepEqual([bin.entries[0].type, bin.entries[0].linkTarget], ['symlink', 'busybox']);
    // Layer 1 deletes big.bin: a whiteout at the path it hides; layer 2 makes etc opaque.
    assert.deepEqual(brief(await layerDir(1, '?dir=app')), [['big.bin', 'whiteout', 0], ['new.txt', 'file', 200]]);
    const top = await layerDir(2, '?dir=.');
    assert.deepEqual(top.entries.map((c) => [c.name, c.opaque ?? false]), [['etc', true]]);
  });

  test('the final filesystem: a whiteout hides a file, an opaque directory hides what lower layers put in it', async () => {
    const root = await finalDir('');
    assert.equal(root.status, 'complete');
    assert.deepEqual(brief(root), [['app', 'dir', 303], ['bin', 'dir', 0], ['etc', 'dir', 30]]);
    const app = await finalDir('?dir=app');
    assert.deepEqual(app.entries.map((c) => [c.name, c.type, c.layer]), [['keep.txt', 'file', 0], ['new.txt', 'file', 1], ['sub', 'file', 3]]);
    assert.deepEqual((await finalDir('?dir=etc')).entries.map((c) => [c.name, c.size, c.layer]), [['other', 30, 2]]);
    const byDigest = await p.get(`/v2/dirs/app/_berth/insight/${image.manifest.digest}/files?dir=etc`);
    assert.deepEqual(((await byDigest.json()) as DirPage).entries.map((c) => c.path), ['etc/other']);
  });

  test('pages of n children follow Link (dir, n, last) to the end; last alone starts after that name', async () => {
    const names: string[] = [];
    let next: string | null = '/v2/dirs/app/_berth/insight/1.0/files?dir=app&n=1';
    let pages = 0;
    while (next !== null) {
      const res = await p.get(next);
      assert.equal(res.status, 200);
      const page = (await res.json()) as DirPage;
      const link = res.headers.get('link');
      assert.equal(link === null ? null : link.slice(1, link.indexOf('>')), page.next);
      if (link !== null) assert.match(link, /^<\/v2\/dirs\/app\/_berth\/insight\/1\.0\/files\?dir=app&n=1&last=[^&>]+>; rel="next"$/);
      names.push(...page.entries.map((c) => c.name));
      next = page.next;
      assert.ok(++pages < 10);
    }
    assert.deepEqual(names, ['keep.txt', 'new.txt', 'sub']);
    assert.equal(pages, 3);
    assert.deepEqual((await layerDir(0, '?dir=app&last=big.bin')).entries.map((c) => c.name), ['keep.txt', 'sub']);
    assert.deepEqual((await finalDir('?dir=app&last=zzz')).entries, []);
  });

  test('bad dir, last, at and n: 400 UNSUPPORTED naming the problem, never a 500', async () => {
    const cases: Array<[string, RegExp]> = [
      ['files?dir=../etc', /must not contain "\.\."/],
      ['files?dir=app/keep.txt', /^dir app\/keep\.txt is a file in the image, not a directory$/],
      ['files?dir=nope', /^dir nope is not in the image$/],
      ['files?dir=a%00b', /without NUL/],
      [`files?dir=${'a/'.repeat(2500)}`, /at most 4096 characters/],
      ['files?dir=app&last=a/b', /^last must be the name of a child of dir/],
      ['files?dir=app&last=', /^last must be the name/],
      ['files?dir=app&n=abc', /^n must be a non-negative integer$/],
      ['layers/0/files?dir=app&at=2', /^at pages the flat list/],
      ['layers/1/files?dir=etc', /^dir etc is not in layer 1$/],
      ['layers/0/files?dir=bin/sh', /is a symlink in layer 0, not a directory/],
    ];
    for (const [path, message] of cases) {
      const res = await p.get(`/v2/dirs/app/_berth/insight/1.0/${path}`);
    const e = await errorOf(res);
      assert.equal(e.status, 400, `${path}: ${JSON.stringify(e)}`);
      assert.equal(e.code, 'UNSUPPORTED');
      assert.match(e.message, message, path);
    }
  });
});

describe('insight: a directory listing of a layer with 100,000 files', () => {
  let reg: InsightRegistry;
  let p: Pusher;
  const DIRS = 100;
  const PER_DIR = 1000;
  before(async () => {
    reg = await startInsightRegistry();
    p = new Pusher(reg.url);
    const entries: TestEntry[] = [];
    for (let d = 0; d < DIRS; d++) for (let f = 0; f < PER_DIR; f++) entries.push({ name: `data/d${String(d).padStart(3, '0')}/f${String(f).padStart(4, '0')}`, content: bytes(f % 10) });
    await pushImage(p, 'dirs/big', '1.0', { layers: [entries] });
  });
  after(() => reg.close());

  test('the first ask builds the index, later pages are served from it', async () => {
    let res = await p.get('/v2/dirs/big/_berth/insight/1.0/layers/0/files?dir=data');
    for (let i = 0; res.status === 202 && i < 600; i++) {
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 100));
      res = await p.get('/v2/dirs/big/_berth/insight/1.0/layers/0/files?dir=data');
    }
    assert.equal(res.status, 200);
    const data = (await res.json()) as DirPage;
    assert.equal(data.total, DIRS);
    assert.equal(data.entries.length, 100);
    assert.deepEqual([data.entries[7].name, data.entries[7].entries, data.entries[7].size], ['d007', PER_DIR, 4500]);
    const started = Date.now();
    const page = (await (await p.get('/v2/dirs/big/_berth/insight/1.0/layers/0/files?dir=data/d042&n=1000')).json()) as DirPage;
    const ms = Date.now() - started;
    assert.equal(page.entries.length, PER_DIR);
    assert.equal(page.next, null);
    assert.equal(page.entries[999].path, 'data/d042/f0999');
    const second = (await (await p.get('/v2/dirs/big/_berth/insight/1.0/files?dir=data/d042&last=f0899')).json()) as DirPage;
    assert.equal(second.entries.length, 100);
    assert.equal(second.next, null);
    console.log(`a page of 1000 children from the built index of 100,000 files: ${ms} ms`);
    assert.ok(ms < 2000, `${ms} ms`);
  });
});
