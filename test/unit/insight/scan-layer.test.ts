import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { scanLayer } from '../../../src/insight/scan-layer';
import { InsightError } from '../../../src/insight/insight-error';
import { zstdAvailable } from '../../../src/insight/layer-media-types';
import { DOCKER_GZIP, GZIP, TAR, ZSTD, layerBlob, scanBlob, tarStream, type TestEntry } from './layers';

const sha256 = (s: string | Buffer) => 'sha256:' + createHash('sha256').update(s).digest('hex');

const TREE: TestEntry[] = [
  { name: './' , type: 'directory' },
  { name: './etc/', type: 'directory' },
  { name: './etc/hostname', content: 'berth\n', mode: 0o644 },
  { name: '/usr//bin/tool', content: 'x'.repeat(1000), mode: 0o4755 },
  { name: 'usr/bin/tool-link', type: 'link', linkname: './usr/bin/tool' },
  { name: 'usr/bin/sh', type: 'symlink', linkname: '../../bin/busybox' },
  { name: 'var/lib/.wh.old', content: '' },
  { name: 'opt/app/.wh..wh..opq', content: '' },
  { name: 'opt/app/.wh..wh.plnk', content: '' },
  { name: 'dev/null', type: 'character-device' },
  { name: 'run/fifo', type: 'fifo' },
];

test('a gzip layer: sizes, counts and every entry normalised, with whiteouts and opaque dirs marked', async () => {
  const blob = await layerBlob(TREE, 'gzip');
  const scan = await scanBlob(blob, GZIP);
  assert.equal(scan.compressedSize, blob.length);
  // 11 entries, each one 512-byte header plus content rounded up to 512, plus the two end blocks;
  // tar-stream's pack pads the archive to no record size.
  const expectedTar = 11 * 512 + 512 /* hostname */ + 1024 /* tool */ + 2 * 512;
  assert.equal(scan.uncompressedSize, expectedTar);
  assert.equal(scan.entryCount, 10, 'the AUFS .wh..wh.plnk is neither file nor whiteout');
  assert.equal(scan.fileCount, 3, 'hostname, tool and its hard link');
  const byPath = Object.fromEntries(scan.entries.map((e) => [`${e.type} ${e.path}`, e]));
  assert.deepEqual(Object.keys(byPath), [
    'dir .', 'dir etc', 'file etc/hostname', 'file usr/bin/tool', 'hardlink usr/bin/tool-link',
    'symlink usr/bin/sh', 'whiteout var/lib/old', 'opaque opt/app', 'char dev/null', 'fifo run/fifo',
  ]);
  assert.deepEqual(byPath['file usr/bin/tool'], {
    path: 'usr/bin/tool', type: 'file', size: 1000, mode: 0o4755, uid: 0, gid: 0, digest: sha256('x'.repeat(1000)),
  });
  assert.equal(byPath['file etc/hostname'].digest, sha256('berth\n'));
  assert.equal(byPath['hardlink usr/bin/tool-link'].linkTarget, 'usr/bin/tool');
  assert.equal(byPath['hardlink usr/bin/tool-link'].size, 0);
  assert.equal(byPath['symlink usr/bin/sh'].linkTarget, '../../bin/busybox', 'a symlink target is kept as written');
  assert.equal(byPath['whiteout var/lib/old'].digest, undefined);
});

test('Docker, OCI uncompressed and nondistributable media types read the same entries', async () => {
  const gzip = await scanBlob(await layerBlob(TREE, 'gzip'), DOCKER_GZIP);
  const plain = await layerBlob(TREE, 'none');
  const tarScan = await scanBlob(plain, TAR);
  const nondist = await scanBlob(plain, 'application/vnd.oci.image.layer.nondistributable.v1.tar');
  assert.deepEqual(tarScan.entries, gzip.entries);
  assert.deepEqual(nondist.entries, gzip.entries);
  assert.equal(tarScan.compressedSize, plain.length);
  assert.equal(tarScan.uncompressedSize, plain.length);
});

test('PAX headers carry names longer than ustar allows, and link targets too', async () => {
  const long = 'deep/' + 'directory-name-that-is-long/'.repeat(12) + 'file.txt';
  assert.ok(long.length > 256);
  const scan = await scanBlob(
    await layerBlob([{ name: long, content: 'hi' }, { name: 'short', type: 'symlink', linkname: long }]),
    GZIP,
  );
  assert.equal(scan.entries[0].path, long);
  assert.equal(scan.entries[0].size, 2);
  assert.equal(scan.entries[1].linkTarget, long);
});

test('zstd layers', { skip: zstdAvailable() ? false : `zlib has no zstd on Node ${process.version} (Node 22.15+)` }, async () => {
  const blob = await layerBlob(TREE, 'zstd');
  const scan = await scanBlob(blob, ZSTD);
  const gzip = await scanBlob(await layerBlob(TREE, 'gzip'), GZIP);
  assert.deepEqual(scan.entries, gzip.entries);
  assert.equal(scan.compressedSize, blob.length);
  assert.equal(scan.uncompressedSize, gzip.uncompressedSize);
});

test('zstd on a Node.js without it: a clear error before any byte is read', { skip: zstdAvailable() ? 'this Node.js has zstd' : false }, async () => {
  const blob = Readable.from([Buffer.from('never read')]);
  await assert.rejects(scanBlob(blob, ZSTD), (err: unknown) => {
    assert.ok(err instanceof InsightError);
    assert.equal(err.kind, 'compression-unavailable');
    assert.match(err.message, /zstd layers need Node\.js 22\.15/);
    return true;
  });
  assert.equal(blob.readableDidRead, false);
});

test('a media type that is not a layer is refused by name', async () => {
  await assert.rejects(scanBlob(Buffer.from('{}'), 'application/vnd.oci.image.config.v1+json'), {
    name: 'InsightError', kind: 'media-type-unsupported', message: /application\/vnd\.oci\.image\.config\.v1\+json/,
  });
});

async function assertCorrupt(blob: Buffer, mediaType: string, message: RegExp): Promise<void> {
  await assert.rejects(scanBlob(blob, mediaType), (err: unknown) => {
    assert.ok(err instanceof InsightError, String(err));
    assert.equal(err.kind, 'layer-corrupt');
    assert.match(err.message, message);
    return true;
  });
}

test('corrupt and truncated layers reject with layer-corrupt, never hang', async () => {
  const gz = await layerBlob([{ name: 'big', content: Buffer.alloc(200_000, 7) }, { name: 'after', content: 'x' }], 'gzip');
  await assertCorrupt(gz.subarray(0, gz.length >> 1), GZIP, /unexpected end of file/);
  const flipped = Buffer.from(gz);
  flipped[0] ^= 0xff;
  await assertCorrupt(flipped, GZIP, /incorrect header check/);
  const plain = await layerBlob([{ name: 'big', content: Buffer.alloc(200_000, 7) }], 'none');
  await assertCorrupt(plain.subarray(0, 100_000), TAR, /Unexpected end of data/);
  await assertCorrupt(Buffer.alloc(4096, 'garbage '), TAR, /Invalid tar header|Invalid header/);
  await assertCorrupt(await layerBlob([{ name: 'a', content: 'b' }], 'none'), GZIP, /incorrect header check/);
});

test('an error from the blob stream rejects the scan, as layer-corrupt with the cause', async () => {
  const failing = new Readable({
    read() {
      this.destroy(new Error('storage read failed'));
    },
  });
  await assert.rejects(scanLayer(failing, { mediaType: GZIP, onEntry: () => {} }), (err: unknown) => {
    assert.ok(err instanceof InsightError);
    assert.match(err.message, /storage read failed/);
    return true;
  });
});

test("a sink's own error rejects the scan as it is and stops reading", async () => {
  let read = 0;
  const entries = (function* () {
    for (let i = 0; i < 10_000; i++) {
      read = i;
      yield { name: `f${i}`, content: 'x' };
    }
  })();
  const refused = new Error('sink full');
  let calls = 0;
  await assert.rejects(
    scanLayer(tarStream(entries), {
      mediaType: TAR,
      onEntry: async () => {
        if (++calls === 3) throw refused;
      },
    }),
    (err) => err === refused,
  );
  assert.ok(read < 5_000, `generation stopped early (at ${read})`);
});

test('a pre-POSIX (v7) tar without the ustar magic is read; its checksum still guards against garbage', async () => {
  const v7 = Buffer.from(await layerBlob([{ name: 'old/file', content: 'v7' }], 'none'));
  v7.fill(0, 257, 265); // magic and version
  v7.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += v7[i];
  v7.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const scan = await scanBlob(v7, TAR);
  assert.deepEqual(scan.entries.map((e) => [e.path, e.size]), [['old/file', 2]]);
});
