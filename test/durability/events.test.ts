import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { pushImage } from '../api/helpers';
import { startBerthProcess } from '../helpers/berth-process';
import { EventReceiver } from '../helpers/event-receiver';

const SECRET = 'durability-test-secret-0123456789';
let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-events-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function start(receiverUrl: string) {
  const config = join(root, 'config.yml');
  await writeFile(
    config,
    [
      'notifications:',
      // The killed process never releases its lease: the next one takes over after this.
      '  takeover: 1s',
      '  endpoints:',
      '    - name: receiver',
      `      url: ${receiverUrl}`,
      '      backoff: 20ms',
      '      maxbackoff: 200ms',
      '',
    ].join('\n'),
  );
  return startBerthProcess({
    args: ['--config', config],
    env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(root, 'data'), REGISTRY_HTTP_SECRET: SECRET, REGISTRY_LOG_ACCESSLOG_DISABLED: 'true' },
  });
}

test('events acknowledged before a SIGKILL (pushes and a pull) are delivered by the next start', async () => {
  let accepting = false;
  const receiver = new EventReceiver(() => accepting);
  await receiver.start();
  const tags = ['one', 'two', 'three'];
  const first = await start(receiver.url);
  try {
    const agent = request.agent(first.url);
    for (const tag of tags) await pushImage(agent, 'killed/repo', tag);
    // A pull's event is written without a sync: it must still survive the process being killed.
    assert.equal((await agent.get('/v2/killed/repo/manifests/one')).status, 200);
    // The receiver has refused at least once, so the first process was delivering when it died.
    await receiver.waitFor(() => receiver.refused > 0);
  } finally {
    await first.stop('SIGKILL');
  }
  assert.ok((await readdir(join(root, 'data', 'berth', 'events', 'segments'))).length > 0, 'segments are on disk');
  accepting = true;
  const second = await start(receiver.url);
  try {
    await receiver.waitFor(
      (events) =>
        tags.every((tag) => events.some((e) => e.action === 'push' && e.target.repository === 'killed/repo' && e.target.tag === tag)) &&
        events.some((e) => e.action === 'pull' && e.target.repository === 'killed/repo'),
      20_000,
    );
    const pushed = receiver.events.filter((e) => e.action === 'push' && e.target.tag !== undefined).map((e) => e.target.tag);
    assert.deepEqual([...new Set(pushed)], tags);
  } finally {
    await second.stop();
    await receiver.stop();
  }
});
