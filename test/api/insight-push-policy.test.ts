import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createMemoryDriver } from '../../storage-drivers';
import { imageManifest, pushMonolithic, sha256 } from '../durability/push-client';
import { EventReceiver } from '../helpers/event-receiver';
import { layerBlob } from '../unit/insight/layers';
import { AWS_KEY_ID, waitUntil } from './insight-helpers';
import { notifying } from './notification-helpers';
import { startRegistry, testConfig, type TestRegistry } from './server';

const SECRET_FILES = [
  { name: 'app/', type: 'directory' as const },
  { name: 'app/run.sh', content: '#!/bin/sh\nexec app\n' },
  { name: 'root/.aws/credentials', content: `[default]\naws_access_key_id = ${AWS_KEY_ID}\n` },
];
const CLEAN_FILES = [{ name: 'app/run.sh', content: '#!/bin/sh\nexec app\n' }];
const DELETES_IT = [{ name: 'root/.aws/.wh.credentials', content: '' }];

async function pushImage(url: string, name: string, layers: Buffer[], env: string[] = []) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: env }, rootfs: { type: 'layers', diff_ids: [] } }));
  const configDigest = await pushMonolithic(url, name, config);
  const descriptors = [];
  for (const layer of layers) descriptors.push({ digest: await pushMonolithic(url, name, layer), size: layer.length });
  const manifest = imageManifest({ digest: configDigest, size: config.length }, descriptors);
  const res = await fetch(`${url}/v2/${name}/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  return { res, body: await res.text(), digest: sha256(manifest) };
}

describe('insight.secrets on manifest PUTs', () => {
  const driver = createMemoryDriver();
  const receiver = new EventReceiver();
  const logLines: string[] = [];
  let reg: TestRegistry;

  before(async () => {
    await receiver.start();
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, done) => (logLines.push(chunk.toString()), done()) }));
    const config = testConfig({
      ...notifying(receiver.url),
      insight: {
        pollinterval: '50ms',
        wait: '20s',
        repositories: {
          'sec/**': { secrets: 'deny' },
          'sec/allowed-*': { secrets: 'deny', allow: { rules: ['aws-access-key-id'] } },
          'sec/fixtures': { secrets: 'deny', allow: { paths: ['root/**'] } },
          quiet: { secrets: 'off' },
        },
      },
    });
    reg = await startRegistry({ driver, config, deps: { logger, eventPollMs: 50 } });
    reg.app.startBackgroundTasks();
  });
  after(async () => {
    await reg.close();
    await receiver.stop();
  });

  it('deny refuses an image that ships a key, even deleted by a later layer, naming file, layer and rule but never the key', async () => {
    const got = await pushImage(reg.url, 'sec/app', [await layerBlob(SECRET_FILES), await layerBlob(DELETES_IT)]);
    assert.equal(got.res.status, 403, got.body);
    const { errors } = JSON.parse(got.body) as { errors: Array<{ code: string; message: string; detail: { findings: unknown[] } }> };
    assert.equal(errors[0].code, 'DENIED');
    assert.match(errors[0].message, /image refused: it ships 1 secret\(s\) .*root\/\.aws\/credentials in layer 0 \(sha256:[0-9a-f]{12}\): aws-access-key-id \(aws-access-key-id:AKIA…:[0-9a-f]{16}\)/);
    assert.ok(!got.body.includes(AWS_KEY_ID), 'the key is in the refusal');
    assert.equal(errors[0].detail.findings.length, 1);
    const head = await fetch(`${reg.url}/v2/sec/app/manifests/v1`, { method: 'HEAD' });
    assert.equal(head.status, 404, 'a refused manifest was stored');
  });

  it('deny refuses a credential in the config Env too', async () => {
    const got = await pushImage(reg.url, 'sec/env', [await layerBlob(CLEAN_FILES)], ['DB_PASSWORD=hunter2-literal']);
    assert.equal(got.res.status, 403, got.body);
    assert.match(got.body, /config\.Env\[0\] of the image config: credential-variable/);
  });

  it('allow-lists by rule and by path let the same image through; a clean image and off repositories push', async () => {
    const layers = [await layerBlob(SECRET_FILES)];
    assert.equal((await pushImage(reg.url, 'sec/allowed-rule', layers)).res.status, 201);
    assert.equal((await pushImage(reg.url, 'sec/fixtures', layers)).res.status, 201);
    assert.equal((await pushImage(reg.url, 'sec/clean', [await layerBlob(CLEAN_FILES)])).res.status, 201);
    assert.equal((await pushImage(reg.url, 'quiet', layers)).res.status, 201);
  });

  it('warn stores the image, then logs its secrets and sends an insight.secrets event without the key', async () => {
    const got = await pushImage(reg.url, 'team/app', [await layerBlob(SECRET_FILES)]);
    assert.equal(got.res.status, 201, got.body);
    await waitUntil('the warning', async () => logLines.some((l) => l.includes(`team/app@${got.digest} ships 1 secret(s)`)));
    await waitUntil('the event', async () => receiver.events.some((e) => (e.action) === 'insight.secrets' && e.target.digest === got.digest));
    const event = receiver.events.find((e) => (e.action) === 'insight.secrets')!;
    assert.equal(event.target.repository, 'team/app');
    assert.equal(event.target.tag, 'v1');
    assert.deepEqual(
      (event.target as unknown as { findings: Array<{ path: string; rule: string }> }).findings.map((f) => [f.path, f.rule]),
      [['root/.aws/credentials', 'aws-access-key-id']],
    );
    assert.ok(!JSON.stringify(receiver.events).includes(AWS_KEY_ID));
    assert.ok(!logLines.join('').includes(AWS_KEY_ID));
    // Off: stored, and nothing told.
    assert.ok(!logLines.some((l) => l.includes('quiet@')));
  });
});

describe('insight.secrets deny when the analysis does not finish in time', () => {
  const driver = createMemoryDriver();
  const open = async (ontimeout: 'refuse' | 'accept') => {
    // Never started: nothing analyses, so every layer stays pending.
    const reg = await startRegistry({ driver, config: testConfig({ insight: { wait: '300ms', ontimeout, repositories: { '**': { secrets: 'deny' } } } }) });
    return reg;
  };

  it('refuse: 503 UNAVAILABLE with Retry-After, nothing stored', async () => {
    const reg = await open('refuse');
    try {
      const started = Date.now();
      const got = await pushImage(reg.url, 'slow/app', [await layerBlob(CLEAN_FILES)]);
      assert.equal(got.res.status, 503, got.body);
      assert.equal(got.res.headers.get('retry-after'), '10');
      assert.match(got.body, /"code":"UNAVAILABLE".*did not finish within 0\.3 s/);
      assert.ok(Date.now() - started < 5_000);
      assert.equal((await fetch(`${reg.url}/v2/slow/app/manifests/v1`, { method: 'HEAD' })).status, 404);
    } finally {
      await reg.close();
    }
  });

  it('accept: stored after the wait', async () => {
    const reg = await open('accept');
    try {
      const got = await pushImage(reg.url, 'slow/accepted', [await layerBlob(CLEAN_FILES)]);
      assert.equal(got.res.status, 201, got.body);
    } finally {
      await reg.close();
    }
  });
});
