import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBerth, startBerthProcess } from '../helpers/berth-process';

const SECRET = 'shared-secret-0123456789abcdef';

test('a second secret-less process on the same storage refuses to start; with a shared secret both run', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-shared-'));
  const env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root };
  const first = await startBerthProcess({ env });
  try {
    await assert.rejects(startBerthProcess({ env }), (err: Error) => {
      assert.match(err.message, /http\.secret: required: another Berth process/);
      return true;
    });
    // A crashed process's registration does not block the next start on this host.
    first.proc.kill('SIGKILL');
    await first.stop();
    const again = await startBerthProcess({ env });
    await again.stop();

    const a = await startBerthProcess({ env: { ...env, REGISTRY_HTTP_SECRET: SECRET } });
    const b = await startBerthProcess({ env: { ...env, REGISTRY_HTTP_SECRET: SECRET } });
    try {
      assert.equal((await fetch(`${a.url}/v2/`)).status, 200);
      assert.equal((await fetch(`${b.url}/v2/`)).status, 200);
    } finally {
      await a.stop();
      await b.stop();
    }
  } finally {
    await first.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('s3 storage without a secret stops start-up with a message naming http.secret', { timeout: 20_000 }, async () => {
  await assert.rejects(
    startBerthProcess({ env: { REGISTRY_STORAGE: 's3', REGISTRY_STORAGE_S3_BUCKET: 'b', REGISTRY_STORAGE_S3_REGIONENDPOINT: 'http://127.0.0.1:9' } }),
    /http\.secret: required with s3 storage/,
  );
});

test('s3 storage with the built-in token server needs no configured key: a generated one is shared through the bucket', async () => {
  const run = await runBerth(['config', 'check'], {
    env: {
      REGISTRY_STORAGE: 's3',
      REGISTRY_STORAGE_S3_BUCKET: 'b',
      REGISTRY_STORAGE_S3_REGIONENDPOINT: 'http://127.0.0.1:9',
      REGISTRY_HTTP_SECRET: SECRET,
      REGISTRY_AUTH_TOKEN_SERVICE: 'berth',
      REGISTRY_AUTH_TOKEN_ISSUER: 'berth',
    },
  });
  assert.equal(run.code, 0, run.stderr);
});
