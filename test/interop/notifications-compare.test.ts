import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startRegistry, testConfig } from '../api/server';
import { writeHtpasswd } from '../auth/helpers';
import { distributionSkipReason, startDistribution } from '../helpers/distribution';
import { EventReceiver, type ReceivedEvent } from '../helpers/event-receiver';
import { DIGESTS, exercise, FORGED_ADDR, isManifestDelete, normalise, sequenceDone, USER_AGENT, type Statuses } from './notification-scenario';

/**
 * Debian's docker-registry (CNCF Distribution 2.8) and Berth get the same requests, each with a
 * receiver of its own; the two sequences of events must be the same value for value, except what
 * README's "Differences from Distribution" lists, which is asserted here as a difference.
 */
test("Berth's events are Distribution 2.8's, value for value, for the same requests", async (t) => {
  const skip = await distributionSkipReason();
  if (skip) return t.skip(skip);
  const root = await mkdtemp(path.join(tmpdir(), 'berth-events-compare-'));
  const htpasswd = path.join(root, 'htpasswd');
  await writeHtpasswd(htpasswd);
  const theirs = new EventReceiver();
  const ours = new EventReceiver();
  await theirs.start();
  await ours.start();
  const distribution = await startDistribution({
    rootDirectory: path.join(root, 'distribution'),
    readyStatuses: [401],
    extraYaml: [
      'auth:',
      '  htpasswd:',
      '    realm: compare',
      `    path: ${JSON.stringify(htpasswd)}`,
      'notifications:',
      '  events:',
      '    includereferences: true',
      '  endpoints:',
      '    - name: compare',
      `      url: ${theirs.url}`,
      '      timeout: 1s',
      '      threshold: 1',
      '      backoff: 100ms',
      '',
    ].join('\n'),
  });
  const berth = await startRegistry({
    config: testConfig({
      auth: { htpasswd: { realm: 'compare', path: htpasswd } },
      notifications: { events: { includereferences: true }, endpoints: [{ name: 'compare', url: ours.url }] },
    }),
    deps: { eventPollMs: 20 },
  });
  berth.app.startBackgroundTasks();
  try {
    const theirStatuses = await exercise(distribution.url);
    const ourStatuses = await exercise(berth.url);
    await theirs.waitFor(sequenceDone);
    await ours.waitFor(sequenceDone);
    // Anything sent after the last expected event would show as a difference too.
    await new Promise((r) => setTimeout(r, 500));
    t.diagnostic(`distribution: ${JSON.stringify(theirs.events)}`);
    t.diagnostic(`berth: ${JSON.stringify(ours.events)}`);
    assert.equal(ours.deliveries[0].contentType, theirs.deliveries[0].contentType);
    assert.deepEqual(ourStatuses, { ...theirStatuses, ...tagDeleteDifference(theirStatuses) });

    const theirEvents = expectForwardedDifference(theirs.events, FORGED_ADDR);
    const ourEvents = expectForwardedDifference(ours.events, '127.0.0.1:');
    const host = hostname();
    const expected = withTagDeleteDifference(theirEvents).map((e) => normalise(e, distribution.url, host));
    // As text: the order of keys counts too.
    assert.equal(JSON.stringify(ourEvents.map((e) => normalise(e, berth.url, host)), null, 1), JSON.stringify(expected, null, 1));
    assert.ok(ours.events.every((e) => e.request.useragent === USER_AGENT && e.actor.name === 'alice'));
    assert.ok(ours.events.some((e) => /\.\d{4,}Z$/.test(e.timestamp)), 'timestamps finer than a millisecond');
  } finally {
    await berth.close();
    await distribution.stop();
    await theirs.stop();
    await ours.stop();
    await rm(root, { recursive: true, force: true });
  }
});

/**
 * Distribution 2.8 cannot delete a tag alone (DELETE by tag is refused); Berth can (OCI 1.1), and
 * reports it as Distribution's own TagDeleted event: the repository and the tag.
 */
function tagDeleteDifference(theirs: Statuses): Partial<Statuses> {
  assert.notEqual(theirs.deleteTag, 202, 'Distribution 2.8 refuses DELETE by tag');
  return { deleteTag: 202 };
}

/** Where Distribution reports v2 deleted with its manifest, Berth reports it at the tag delete, just before. */
function withTagDeleteDifference(theirs: ReceivedEvent[]): ReceivedEvent[] {
  const v2 = theirs.findIndex((e) => e.action === 'delete' && e.target.tag === 'v2');
  assert.ok(v2 >= 0, 'Distribution reports v2 deleted with its manifest');
  const rest = theirs.filter((_, i) => i !== v2);
  const byDigest = rest.findIndex(isManifestDelete);
  return [...rest.slice(0, byDigest), theirs[v2], ...rest.slice(byDigest)];
}

/**
 * Distribution reports the first X-Forwarded-For address as the client's, which any client can
 * forge; Berth reports the connection's peer (README, "Differences from Distribution").
 */
function expectForwardedDifference(events: ReceivedEvent[], addr: string): ReceivedEvent[] {
  const isForwarded = (e: ReceivedEvent) => e.action === 'pull' && e.target.digest === DIGESTS.config;
  const forwarded = events.filter(isForwarded);
  assert.equal(forwarded.length, 1);
  assert.ok(String(forwarded[0].request.addr).startsWith(addr), `${JSON.stringify(forwarded[0].request)} reported from ${addr}`);
  return events.map((e) => (isForwarded(e) ? { ...e, request: { ...e.request, addr: 'FORWARDED' } } : e));
}
