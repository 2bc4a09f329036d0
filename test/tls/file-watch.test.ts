import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileSignature, watchFiles } from '../../src/tls/file-watch';
import { eventually } from './tls-client';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-file-watch-'));
});
after(() => rm(dir, { recursive: true, force: true }));

// The listener takes the files' signature, then loads them, then starts the watch: a rotation that
// lands between the load and the watch must still be noticed, or the old pair is served until the
// next rotation.
test('a change after the signature the caller took, before the watch started, is seen by the first check', async () => {
  const file = path.join(dir, 'tls.crt');
  await writeFile(file, 'first\n');
  const since = await fileSignature([file]);
  await writeFile(file, 'second, a little longer\n');
  let changes = 0;
  const watch = watchFiles([file], { intervalMs: 100, since, onChange: async () => void changes++ });
  try {
    await eventually('the change to be seen', () => changes === 1, 5_000);
  } finally {
    watch.close();
  }
});

test('no change after the signature: no call', async () => {
  const file = path.join(dir, 'steady.crt');
  await writeFile(file, 'steady\n');
  let changes = 0;
  const watch = watchFiles([file], { intervalMs: 50, since: await fileSignature([file]), onChange: async () => void changes++ });
  await new Promise((r) => setTimeout(r, 400));
  watch.close();
  assert.equal(changes, 0);
});
