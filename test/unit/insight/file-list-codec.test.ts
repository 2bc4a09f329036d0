import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable, Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync, gzipSync } from 'node:zlib';
import { fileListWriter, readFileList } from '../../../src/insight/file-list-codec';
import { InsightError } from '../../../src/insight/insight-error';
import type { LayerEntry } from '../../../src/insight/layer-entry';
import { GZIP, layerBlob, scanBlob } from './layers';

async function encode(entries: LayerEntry[]): Promise<Buffer> {
  const out = new PassThrough();
  const stored = buffer(out);
  const writer = fileListWriter(out);
  for (const entry of entries) await writer.write(entry);
  await writer.end();
  return stored;
}

async function decode(stored: Buffer): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  for await (const entry of readFileList(Readable.from([stored]))) entries.push(entry);
  return entries;
}

test('a scanned file list round-trips through the stored encoding, odd names included', async () => {
  const scan = await scanBlob(
    await layerBlob([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/line\nbreak "quoted" é', content: 'a' },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'bin/ash', type: 'link', linkname: 'bin/sh' },
      { name: 'var/.wh.gone', content: '' },
      { name: 'opt/.wh..wh..opq', content: '' },
    ]),
    GZIP,
  );
  const stored = await encode(scan.entries);
  assert.deepEqual(await decode(stored), scan.entries);
  const lines = gunzipSync(stored).toString().split('\n');
  assert.equal(lines[0], '{"berth-file-list":1}');
  assert.equal(lines[2], `["etc/line\\nbreak \\"quoted\\" é","f",1,420,0,0,0,"${scan.entries[1].digest!.slice(7)}"]`);
  assert.equal(lines.at(-1), '', 'every line ends with a newline');
  assert.deepEqual(await decode(await encode([])), []);
});

async function assertCorrupt(stored: Buffer, message: RegExp): Promise<void> {
  await assert.rejects(decode(stored), (err: unknown) => {
    assert.ok(err instanceof InsightError, String(err));
    assert.equal(err.kind, 'file-list-corrupt');
    assert.match(err.message, message);
    return true;
  });
}

test('a truncated, foreign or damaged file list is refused as file-list-corrupt', async () => {
  const entry: LayerEntry = { path: 'a', type: 'file', size: 1, mode: 0o644, uid: 0, gid: 0, digest: 'sha256:' + 'a'.repeat(64) };
  const stored = await encode(Array.from({ length: 2000 }, (_, i) => ({ ...entry, path: `f${i}` })));
  await assertCorrupt(stored.subarray(0, stored.length - 20), /unexpected end of file|ends mid-line/);
  await assertCorrupt(gzipSync('{"berth-file-list":2}\n'), /version 1/);
  await assertCorrupt(gzipSync(''), /ends mid-line/);
  await assertCorrupt(gzipSync('{"berth-file-list":1}\n["a","f",1,420,0,0,0,0]'), /ends mid-line/);
  await assertCorrupt(gzipSync('{"berth-file-list":1}\n["a","?",1,420,0,0,0,0]\n'), /line 2 is not an entry/);
  await assertCorrupt(gzipSync('{"berth-file-list":1}\n["a","f",-1,420,0,0,0,0]\n'), /line 2 is not an entry/);
  await assertCorrupt(gzipSync('{"berth-file-list":1}\n{nope\n'), /line 2 is not JSON/);
  await assertCorrupt(Buffer.from('not gzip'), /incorrect header check/);
});

test('the writer waits for a slow destination instead of buffering the list', async () => {
  let pending: (() => void) | undefined;
  const slow = new Writable({
    highWaterMark: 1024,
    write(_chunk, _encoding, callback) {
      pending = callback;
    },
  });
  const writer = fileListWriter(slow);
  let written = 0;
  const writing = (async () => {
    for (let i = 0; i < 100_000; i++) {
      await writer.write({ path: `p/${i}/${Math.random()}`, type: 'file', size: i, mode: 0o644, uid: 0, gid: 0 });
      written++;
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(written < 20_000, `the writer went on to entry ${written} with the destination stalled`);
  slow.destroy(new Error('disk gone'));
  await assert.rejects(writing, /disk gone/);
  void pending;
});
