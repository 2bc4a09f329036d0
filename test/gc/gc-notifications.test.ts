import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import request from 'supertest';
import { pushImage, repoName } from '../api/helpers';
import { runBerth, startBerthProcess } from '../helpers/berth-process';
import { EventReceiver, type ReceivedEvent } from '../helpers/event-receiver';

const gcEvents = (events: ReceivedEvent[]) => events.filter((e) => e.action === 'gc.delete');

/**
 * The offline `berth gc` beside a running Berth on one store: the collection writes its events to
 * the store's journal, and the running process (which polls it) delivers them. A dry run writes none.
 */
test('berth gc records what it deletes for the running registry to deliver; a dry run records nothing', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-gc-events-'));
  const receiver = new EventReceiver();
  await receiver.start();
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'http:',
      '  secret: gc-notifications-test-secret-0123456789',
      'storage:',
      '  delete:',
      '    enabled: true',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      'notifications:',
      '  endpoints:',
      '    - name: receiver',
      `      url: ${receiver.url}`,
      '      backoff: 20ms',
      '',
    ].join('\n'),
  );
  const berth = await startBerthProcess({ args: ['--config', config], env: { REGISTRY_LOG_ACCESSLOG_DISABLED: 'true' } });
  try {
    const agent = request.agent(berth.url);
    const repo = repoName('offline');
    const image = await pushImage(agent, repo, 'gone');
    assert.equal((await agent.delete(`/v2/${repo}/manifests/gone`)).status, 202);
    const gc = (...flags: string[]) => runBerth(['gc', '--json', '--delete-untagged', '--grace', '0s', '--config', config, ...flags], { timeoutMs: 60_000 });

    const dry = await gc('--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal((JSON.parse(dry.stdout) as { blobs: unknown[] }).blobs.length, 3);
    // Recorded after the dry run, delivered after anything it could have recorded.
    assert.equal((await agent.get(`/v2/${repo}/blobs/${image.layer.digest}`)).status, 200);
    await receiver.waitFor((events) => events.some((e) => e.action === 'pull' && e.target.repository === repo));
    assert.deepEqual(gcEvents(receiver.events), []);

    // Links written within the collector's clock slack (2 s) of its start are kept as a push in progress.
    await new Promise((r) => setTimeout(r, 2_500));
    const real = await gc();
    assert.equal(real.code, 0, real.stderr);
    await receiver.waitFor((events) => gcEvents(events).length >= 4, 20_000);
    const digests = gcEvents(receiver.events).map((e) => e.target.digest);
    assert.deepEqual(new Set(digests), new Set([image.manifest.digest, image.config.digest, image.layer.digest]));
    const manifest = gcEvents(receiver.events).filter((e) => e.target.repository !== undefined);
    assert.deepEqual(
      manifest.map((e) => e.target),
      [{ repository: repo, digest: image.manifest.digest }],
    );
    const serverSource = receiver.events.find((e) => e.action === 'pull')?.source.instanceID;
    assert.notEqual(gcEvents(receiver.events)[0].source.instanceID, serverSource, 'the collection is its own source');
  } finally {
    await berth.stop();
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
