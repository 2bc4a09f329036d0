import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import { pushImage, repoName } from '../api/helpers';
import { startRegistry, testConfig } from '../api/server';
import { runBerth } from '../helpers/berth-process';
import { EventReceiver, type ReceivedEvent } from '../helpers/event-receiver';

const tags = (events: ReceivedEvent[]) => events.flatMap((e) => (e.action === 'push' && e.target.tag ? [e.target.tag] : []));

interface Listed {
  setAside: Array<{ endpoint: string; segment: string; events: number; stored: boolean; reason: { status: number; attempts: number; error: string } | null }>;
}

test('berth events: set-aside events are listed with why, sent again by retry, given up by discard, on the store of a running registry', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-events-cli-'));
  const refused = new Set(['poison', 'junk']);
  const receiver = new EventReceiver((body) => !body.events.some((e) => e.target.tag !== undefined && refused.has(e.target.tag)) || 400);
  await receiver.start();
  const driver = createFilesystemDriver({ rootDirectory: root });
  const config = testConfig({ notifications: { endpoints: [{ name: 'receiver', url: receiver.url, maxattempts: 2, threshold: 1, backoff: '10ms', maxbackoff: '10ms' }] } });
  const registry = await startRegistry({ config, driver, deps: { eventPollMs: 20 } });
  registry.app.startBackgroundTasks();
  const env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root };
  const events = (...args: string[]) => runBerth(['events', ...args], { env });
  try {
    const name = repoName('dead');
    for (const tag of ['poison', 'junk', 'after']) await pushImage(registry.r(), name, tag);
    await receiver.waitFor((e) => tags(e).includes('after'));

    const listed = await events('list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const rows = (JSON.parse(listed.stdout) as Listed).setAside;
    assert.equal(rows.length, 2, listed.stdout);
    for (const r of rows) {
      assert.equal(r.endpoint, 'receiver');
      assert.equal(r.stored, true);
      assert.equal(r.reason?.status, 400);
      assert.equal(r.reason?.attempts, 2);
      assert.ok(r.events >= 1);
    }
    const which = async (segment: string) => ((await driver.getContent(`/berth/events/segments/${segment}`)).toString('utf8').includes('"tag":"poison"') ? 'poison' : 'junk');
    const byTag = new Map(await Promise.all(rows.map(async (r) => [await which(r.segment), r.segment] as const)));
    const table = await events('list');
    assert.match(table.stdout, /^ENDPOINT +SEGMENT +EVENTS +WHY\n/);
    assert.match(table.stdout, new RegExp(`receiver +${byTag.get('poison')} +\\d+ +400 after 2 attempts`));

    // retry: the receiver now takes it, and the running registry sends it at its next pass.
    refused.delete('poison');
    const retried = await events('retry', 'receiver', byTag.get('poison')!);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, /1 segment\(s\) for receiver will be sent again/);
    await receiver.waitFor((e) => tags(e).includes('poison'));

    // discard: given up for good, so a receiver that would now take it never gets it.
    const discarded = await events('discard', 'receiver', '--all');
    assert.equal(discarded.code, 0, discarded.stderr);
    assert.match(discarded.stdout, /1 segment\(s\) for receiver given up/);
    refused.delete('junk');
    await pushImage(registry.r(), name, 'later');
    await receiver.waitFor((e) => tags(e).includes('later'));
    assert.ok(!tags(receiver.events).includes('junk'), 'a discarded event was sent');
    assert.deepEqual(JSON.parse((await events('list', '--json')).stdout), { setAside: [] });
    assert.equal((await events('list')).stdout, 'no events are set aside\n');

    // Something that is not set aside: the others are done, the exit status says one was not.
    const again = await events('retry', 'receiver', byTag.get('poison')!);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is not set aside for receiver/);
  } finally {
    await registry.close();
    await receiver.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('berth events: usage errors exit 2 before the store is touched', { timeout: 30_000 }, async () => {
  const root = join(tmpdir(), `berth-events-never-${process.pid}`);
  const env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root };
  for (const [args, why] of [
    [[], /events: name a subcommand: list, retry or discard/],
    [['resend'], /events: unknown subcommand "resend"/],
    [['retry', 'receiver'], /retry needs the segments to act on, or --all/],
    [['discard'], /discard needs an endpoint/],
    [['retry', 'receiver', 'seg', '--all'], /or --all \(not both\)/],
    [['list', '../elsewhere'], /"..\/elsewhere" is not an endpoint name/],
    [['retry', 'receiver', '../../x'], /is not a segment name/],
    [['list', '--all'], /--all goes with retry and discard/],
    [['list', 'a', 'b'], /unexpected argument "b"|b/],
  ] as Array<[string[], RegExp]>) {
    const r = await runBerth(['events', ...args], { env });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, why, args.join(' '));
    assert.match(r.stderr, /usage: berth events list/);
  }
  const help = await runBerth(['help', 'events']);
  assert.match(help.stdout, /retry has the registry send them again/);
  await assert.rejects(import('node:fs/promises').then((fs) => fs.access(root)), 'a usage error created the root');
});
