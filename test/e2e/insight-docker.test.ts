import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { startE2eRegistry, withRegistryLogs, type E2eRegistry } from '../helpers/e2e-registry';
import { requireTool, requireTools } from '../helpers/tools';
import { savedImageFigures } from './saved-image-efficiency';

const skip = requireTools(['dockerd', 'docker', 'busybox', 'tar'], { root: true });

interface Report {
  status: string;
  digest: string;
  efficiency: number;
  wastedBytes: number;
  shippedBytes: number;
  layers: Array<{ digest: string; compressedSize: number; shippedBytes: number; hiddenBytes: number; createdBy?: string }>;
  offenders: Array<{ path: string; size: number; addedBy: { index: number; createdBy?: string }; hiddenBy: { index: number; createdBy?: string } }>;
  secrets: { mode: string; findings: Array<{ path: string; rule: string; fingerprint: string; layer?: { index: number } }> };
  push?: {
    status: string;
    previous: string;
    layers: Array<{ kind: string }>;
    advice: Array<{ move: { index: number; createdBy?: string }; below: { index: number; createdBy?: string }; bytesPerPush: number }>;
  };
}

/** A deterministic stand-in for a leaked AWS key pair: the documented example values. */
const AWS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const BIG_BYTES = 3_000_000;

describe('image insight on images built by the Docker engine', { skip, timeout: 600_000 }, () => {
  let registry: E2eRegistry | undefined;
  let dockerd: Dockerd | undefined;
  let work: string;
  let privateKey: string;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'e2e-insight-'));
    privateKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    registry = await startE2eRegistry(async (dir) => {
      const config = path.join(dir, 'config.yml');
      await writeFile(
        config,
        [
          `storage: {filesystem: {rootdirectory: ${JSON.stringify(path.join(dir, 'root'))}}}`,
          'insight:',
          '  pollinterval: 200ms',
          '  repositories:',
          '    "secure/**": {secrets: deny}',
          '    "secure/keys-allowed": {secrets: deny, allow: {rules: [private-key, aws-access-key-id, aws-secret-access-key]}}',
          '',
        ].join('\n'),
      );
      return ['--config', config];
    });
    dockerd = await startDockerd();
  });

  after(async () => {
    await dockerd?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const docker = (args: string[]) => dockerd!.docker(args);

  async function build(name: string, files: Record<string, string | Buffer>, lines: string[], tag = 'v1'): Promise<string> {
    const ctx = path.join(work, name);
    await mkdir(ctx, { recursive: true });
    await copyFile(requireTool('busybox'), path.join(ctx, 'busybox'));
    for (const [file, content] of Object.entries(files)) await writeFile(path.join(ctx, file), content);
    await writeFile(path.join(ctx, 'Dockerfile'), ['FROM scratch', 'COPY busybox /bin/busybox', ...lines, ''].join('\n'));
    const ref = `${registry!.host}/${name}:${tag}`;
    await docker(['build', '--quiet', '--network', 'none', '--tag', ref, ctx]);
    return ref;
  }

  async function report(repository: string, reference: string): Promise<Report> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${registry!.url}/v2/${repository}/_berth/insight/${reference}`);
      assert.ok(res.status === 200 || res.status === 202, await res.clone().text());
      const body = (await res.json()) as Report;
      if (body.status === 'complete' && body.push?.status !== 'pending') return body;
      if (Date.now() > deadline) assert.fail(`insight still ${body.status} after 60 s: ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  test('a big file deleted two instructions later: wasted bytes, efficiency and the offender, as docker save shows them', () =>
    withRegistryLogs(registry, async () => {
      const busybox = (await stat(requireTool('busybox'))).size;
      const ref = await build('e2e/deleted-big', { 'big.bin': Buffer.alloc(BIG_BYTES, 7) }, [
        'COPY big.bin /data/big.bin',
        'ENV STAGE=cleanup',
        'RUN ["/bin/busybox", "rm", "/data/big.bin"]',
      ]);
      await docker(['push', ref]);
      const got = await report('e2e/deleted-big', 'v1');

      // By hand: busybox and the big file ship; only busybox is left.
      assert.equal(got.shippedBytes, busybox + BIG_BYTES);
      assert.equal(got.wastedBytes, BIG_BYTES);
      assert.equal(got.efficiency, busybox / (busybox + BIG_BYTES));
      assert.deepEqual(
        got.layers.map((l) => [l.shippedBytes, l.hiddenBytes]),
        [
          [busybox, 0],
          [BIG_BYTES, BIG_BYTES],
          [0, 0],
        ],
      );
      const [top] = got.offenders;
      assert.equal(top.path, 'data/big.bin');
      assert.equal(top.size, BIG_BYTES);
      assert.equal(top.addedBy.index, 1);
      assert.match(top.addedBy.createdBy ?? '', /COPY .* in \/data\/big\.bin/);
      // The ENV made no layer: the RUN's history entry is the third layer's, not the ENV's.
      assert.equal(top.hiddenBy.index, 2);
      assert.match(top.hiddenBy.createdBy ?? '', /busybox rm \/data\/big\.bin/);

      // A second implementation: the saved image's layer tars, walked with tar.
      const saved = await savedImageFigures(docker, ref, work);
      assert.deepEqual(
        got.layers.map((l) => l.shippedBytes),
        saved.shippedPerLayer,
      );
      assert.equal(got.shippedBytes - got.wastedBytes, saved.reachableBytes);
      assert.equal(got.efficiency, saved.efficiency);
    }));

  const secretFiles = () => ({
    id_ed25519: privateKey,
    credentials: `[default]\naws_access_key_id = ${AWS_KEY_ID}\naws_secret_access_key = ${AWS_SECRET}\n`,
  });
  const secretLines = [
    'COPY id_ed25519 /root/.ssh/id_ed25519',
    'COPY credentials /root/.aws/credentials',
    'RUN ["/bin/busybox", "rm", "-r", "/root/.ssh", "/root/.aws/credentials"]',
  ];

  test('an SSH key and an AWS key baked in and deleted: still reported in the layers that ship them, never shown', () =>
    withRegistryLogs(registry, async () => {
      const ref = await build('e2e/baked-keys', secretFiles(), secretLines);
      await docker(['push', ref]);
      const got = await report('e2e/baked-keys', 'v1');
      const found = got.secrets.findings.map((s) => `${s.layer?.index}:${s.path}:${s.rule}`).sort();
      assert.deepEqual(found, ['1:root/.ssh/id_ed25519:private-key', '2:root/.aws/credentials:aws-access-key-id', '2:root/.aws/credentials:aws-secret-access-key']);
      const body = JSON.stringify(got);
      assert.ok(!body.includes(AWS_SECRET) && !body.includes(AWS_KEY_ID), 'the AWS key leaked into the report');
      const keyBody = privateKey.split('\n')[1];
      assert.ok(!body.includes(keyBody), 'the private key leaked into the report');
    }));

  test('insight.secrets deny: docker push shows the refusal, and nothing of the image is tagged', () =>
    withRegistryLogs(registry, async () => {
      const built = await build('secure/keys', secretFiles(), secretLines);
      const pushed = await dockerd!.docker(['push', built]).then(
        () => assert.fail('the push of an image with secrets was accepted under deny'),
        (err: Error) => err.message,
      );
      assert.match(pushed, /denied: image refused: it ships 3 secret\(s\)/);
      assert.match(pushed, /root\/\.ssh\/id_ed25519 in layer 1 .*: private-key/);
      assert.ok(!pushed.includes(AWS_SECRET));
      const manifest = await fetch(`${registry!.url}/v2/secure/keys/manifests/v1`, { method: 'HEAD' });
      assert.equal(manifest.status, 404);

      // The allow-list lets the same image through, and an image without secrets pushes under deny.
      const allowed = `${registry!.host}/secure/keys-allowed:v1`;
      await docker(['tag', built, allowed]);
      await docker(['push', allowed]);
      const clean = await build('secure/clean', {}, ['ENV HOME=/root']);
      await docker(['push', clean]);
    }));

  test('a dependency install above the COPY of the source: rebuilt with the same files at each push, advised below it', () =>
    withRegistryLogs(registry, async () => {
      const vendor = { 'vendor.txt': Buffer.alloc(400_000, 'v') };
      const lines = ['COPY vendor.txt /vendor/lib.txt', 'COPY app.txt /app/app.txt', 'RUN ["/bin/busybox", "cp", "-r", "/vendor", "/deps"]'];
      const first = await build('e2e/order', { ...vendor, 'app.txt': 'version 1\n' }, lines, 'latest');
      await docker(['push', first]);
      const before = await report('e2e/order', 'latest');
      assert.equal(before.push, undefined);
      const second = await build('e2e/order', { ...vendor, 'app.txt': 'version 2\n' }, lines, 'latest');
      await docker(['push', second]);
      const got = await report('e2e/order', 'latest');
      assert.equal(got.push?.status, 'complete', JSON.stringify(got.push));
      assert.equal(got.push.previous, before.digest);
      assert.deepEqual(
        got.push.layers.map((l) => l.kind),
        ['reused', 'reused', 'changed', 'rebuilt-identical'],
      );
      const [advice] = got.push.advice;
      assert.equal(got.push.advice.length, 1);
      assert.match(advice.move.createdBy ?? '', /cp -r \/vendor \/deps/);
      assert.match(advice.below.createdBy ?? '', /COPY .* in \/app\/app\.txt/);
      assert.equal(advice.bytesPerPush, got.layers[3].compressedSize);
      assert.ok(advice.bytesPerPush > 0);
    }));
});
