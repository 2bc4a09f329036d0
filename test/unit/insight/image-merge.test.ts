import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { historyOfLayers } from '../../../src/insight/history-map';
import { mergeLayers, type LayerInput } from '../../../src/insight/image-merge';
import { GZIP, iterate, layerBlob, scanBlob, type ScanResult, type TestEntry } from './layers';

async function scanAll(layers: TestEntry[][]): Promise<ScanResult[]> {
  return Promise.all(layers.map(async (entries) => scanBlob(await layerBlob(entries), GZIP)));
}

const inputs = (scans: ScanResult[]): LayerInput[] =>
  scans.map((scan, i) => ({ digest: `sha256:layer${i}`, entries: iterate(scan.entries) }));

const bytes = (n: number) => Buffer.alloc(n, 'z');

test('a big file and two keys deleted in a later layer: shipped, not reachable, and the keys still found in the earlier layer', async () => {
  const sshKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const aws = `[default]\naws_access_key_id = AKIA${'IOSFODNN7EXAMPLE'}\naws_secret_access_key = ${'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'}\n`;
  const scans = await scanAll([
    [{ name: 'bin/busybox', content: bytes(1000) }, { name: 'etc/passwd', content: bytes(100) }],
    [
      { name: 'tmp/big.bin', content: bytes(500_000) },
      { name: 'root/.ssh/id_ed25519', content: sshKey },
      { name: 'root/.aws/credentials', content: aws },
    ],
    [
      { name: 'tmp/.wh.big.bin', content: '' },
      { name: 'root/.ssh/.wh.id_ed25519', content: '' },
      { name: 'root/.aws/.wh.credentials', content: '' },
      { name: 'etc/passwd', content: bytes(120) },
    ],
  ]);
  assert.deepEqual(scans[1].findings.map((f) => f.rule).sort(), ['aws-access-key-id', 'aws-secret-access-key', 'private-key']);
  assert.ok(scans[1].findings.every((f) => !f.fingerprint.includes('EXAMPLE')));
  assert.deepEqual(scans[2].findings, []);
  const history = [
    { created_by: 'ADD busybox /' },
    { created_by: 'ENV A=b', empty_layer: true },
    { created_by: 'RUN fetch big.bin and keys' },
    { created_by: 'CMD ["sh"]', empty_layer: true },
    { created_by: 'RUN rm big.bin keys' },
  ];
  const report = await mergeLayers(inputs(scans), { history });
  const keys = sshKey.length + aws.length;
  const shipped = 1000 + 100 + 500_000 + keys + 120;
  assert.equal(report.shippedBytes, shipped);
  assert.equal(report.reachableBytes, 1000 + 120);
  assert.equal(report.hiddenBytes, 100 + 500_000 + keys);
  assert.equal(report.efficiency, 1120 / shipped);
  assert.deepEqual(
    report.layers.map((l) => [l.createdBy, l.shippedBytes, l.hiddenBytes]),
    [
      ['ADD busybox /', 1100, 100],
      ['RUN fetch big.bin and keys', 500_000 + keys, 500_000 + keys],
      ['RUN rm big.bin keys', 120, 0],
    ],
  );
  assert.deepEqual(report.hidden[0], {
    path: 'tmp/big.bin',
    size: 500_000,
    addedBy: { index: 1, digest: 'sha256:layer1', createdBy: 'RUN fetch big.bin and keys' },
    hiddenBy: { index: 2, digest: 'sha256:layer2', createdBy: 'RUN rm big.bin keys' },
  });
  assert.deepEqual(
    report.hidden.map((h) => [h.path, h.addedBy.index, h.hiddenBy.index]),
    [['tmp/big.bin', 1, 2], ...[['root/.ssh/id_ed25519', sshKey.length], ['root/.aws/credentials', aws.length]]
      .sort((a, b) => (b[1] as number) - (a[1] as number)).map(([p]) => [p, 1, 2]), ['etc/passwd', 0, 2]],
  );
  assert.equal((await mergeLayers(inputs(await scanAll([[{ name: 'a', content: bytes(9) }]])), { top: 0 })).hidden.length, 0);
});

test('an opaque directory hides what lower layers put in it, not what its own layer adds', async () => {
  const scans = await scanAll([
    [
      { name: 'opt/app/a', content: bytes(10) },
      { name: 'opt/app/sub/b', content: bytes(20) },
      { name: 'opt/keep', content: bytes(5) },
    ],
    [
      { name: 'opt/app/', type: 'directory' },
      { name: 'opt/app/c', content: bytes(30) },
      { name: 'opt/app/.wh..wh..opq', content: '' },
    ],
  ]);
  const report = await mergeLayers(inputs(scans));
  assert.equal(report.shippedBytes, 65);
  assert.equal(report.reachableBytes, 35);
  assert.deepEqual(report.hidden.map((h) => [h.path, h.size, h.hiddenBy.index]), [['opt/app/sub/b', 20, 1], ['opt/app/a', 10, 1]]);
});

test('a whiteout hides the lower layers of a directory but keeps what its own layer puts there', async () => {
  const scans = await scanAll([
    [{ name: 'd/old', content: bytes(6) }],
    [{ name: 'd/new', content: bytes(2) }, { name: '.wh.d', content: '' }],
  ]);
  const report = await mergeLayers(inputs(scans));
  assert.equal(report.reachableBytes, 2);
  assert.deepEqual(report.hidden.map((h) => h.path), ['d/old']);
});

test('a hard link keeps content reachable after its first name is deleted; a symlink does not', async () => {
  const scans = await scanAll([
    [
      { name: 'usr/bin/tool', content: bytes(300) },
      { name: 'usr/bin/alias', type: 'link', linkname: 'usr/bin/tool' },
      { name: 'usr/bin/sym', type: 'symlink', linkname: 'tool' },
      { name: 'usr/lib/data', content: bytes(40) },
      { name: 'usr/lib/pointer', type: 'symlink', linkname: 'data' },
    ],
    [{ name: 'usr/bin/.wh.tool', content: '' }, { name: 'usr/lib/.wh.data', content: '' }],
    [{ name: 'usr/bin/.wh.alias', content: '' }],
  ]);
  const twoLayers = await mergeLayers(inputs(scans.slice(0, 2)));
  assert.equal(twoLayers.shippedBytes, 340, 'a hard link ships no second copy');
  assert.equal(twoLayers.reachableBytes, 300);
  assert.deepEqual(twoLayers.hidden.map((h) => h.path), ['usr/lib/data']);
  const all = await mergeLayers(inputs(scans));
  assert.equal(all.reachableBytes, 0);
  assert.deepEqual(all.hidden.map((h) => [h.path, h.size, h.addedBy.index, h.hiddenBy.index]), [
    ['usr/bin/alias', 300, 0, 2],
    ['usr/lib/data', 40, 0, 1],
  ]);
  assert.equal(all.efficiency, 0);
});

test('an entry replaces what had its path: a file over a directory, a directory over a file', async () => {
  const scans = await scanAll([
    [{ name: 'data/x', content: bytes(7) }, { name: 'data/y', content: bytes(8) }, { name: 'conf', content: bytes(3) }],
    [{ name: 'data', content: bytes(1) }, { name: 'conf/inner', content: bytes(4) }],
  ]);
  const report = await mergeLayers(inputs(scans));
  assert.equal(report.shippedBytes, 23);
  assert.equal(report.reachableBytes, 5);
  assert.deepEqual(report.hidden.map((h) => h.path), ['data/y', 'data/x', 'conf']);
});

test('an image with no file content is fully efficient', async () => {
  const report = await mergeLayers(inputs(await scanAll([[{ name: 'etc/', type: 'directory' }]])));
  assert.deepEqual([report.shippedBytes, report.efficiency, report.hidden], [0, 1, []]);
});

test('history entries map to layers skipping empty_layer ones; a short history names no wrong layer', () => {
  const history = [{ created_by: 'a' }, { created_by: 'env', empty_layer: true }, { created_by: 'b' }];
  assert.deepEqual(historyOfLayers(history, 3), [{ created_by: 'a' }, { created_by: 'b' }, undefined]);
  assert.deepEqual(historyOfLayers(undefined, 2), [undefined, undefined]);
  assert.deepEqual(historyOfLayers([null, 'x', { created_by: 'c' }], 1), [{ created_by: 'c' }]);
});
