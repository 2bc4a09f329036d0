import assert from 'node:assert/strict';
import { test } from 'node:test';
import request from 'supertest';
import { pushImage, repoName } from '../api/helpers';
import { EventReceiver, type ReceivedEvent } from '../helpers/event-receiver';
import { startCluster, withClusterLogs, type Cluster } from './cluster';
import { s3Store } from './stores';

const KIND = s3Store(false);
/** Short, so the survivor takes the endpoint over soon after the kill. */
const TAKEOVER = '3s';
const REPOS = 3;
const TAGS = 4;

/** What a push made: its repository, tag, and the digests of its manifest and blobs. */
interface Pushed {
  repo: string;
  tag: string;
  digests: string[];
}

/**
 * Two replicas on one RGW bucket deliver to one receiver that refuses half the envelopes; the replica
 * holding the endpoint's lease is SIGKILLed while events wait. The other must take over and deliver
 * every acknowledged event at least once, none it was not given, each repository's in push order.
 */
test('a replica killed while delivering hands its endpoint to the other on S3: none lost, none invented, in order per repository', { timeout: 240_000 }, async (t) => {
  const unavailable = await KIND.unavailable();
  if (unavailable) {
    if (process.env.CI) throw new Error(`prerequisite missing in CI: ${unavailable}`);
    t.skip(unavailable);
    return;
  }
  let accept = () => Math.random() < 0.5;
  const receiver = new EventReceiver(() => accept());
  await receiver.start();
  const endpoints = JSON.stringify([{ name: 'receiver', url: receiver.url, backoff: '50ms', maxbackoff: '300ms' }]);
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster(KIND, 2, { REGISTRY_NOTIFICATIONS_ENDPOINTS: endpoints, REGISTRY_NOTIFICATIONS_TAKEOVER: TAKEOVER });
    const c = cluster;
    await withClusterLogs(c, async () => {
      const pushed: Pushed[] = [];
      const push = async (base: string, repo: string, tag: string) => {
        const image = await pushImage(request.agent(base), repo, tag);
        pushed.push({ repo, tag, digests: [image.manifest.digest, image.config.digest, image.layer.digest] });
      };
      const repos = Array.from({ length: REPOS }, () => repoName('takeover'));
      // Through the proxy: both replicas record events.
      for (let i = 0; i < TAGS / 2; i++) for (const repo of repos) await push(c.proxy.url, repo, `t${i}`);
      await receiver.waitFor(() => receiver.refused > 0 && receiver.deliveries.length > 0, 60_000);

      // The holder is the replica that has been sending (and seeing refusals).
      const holder = c.replicas.findIndex((r) => r.logs().includes('event delivery failed'));
      assert.ok(holder >= 0, 'one replica delivers');
      assert.ok(!c.replicas[1 - holder].logs().includes('event delivery failed'), 'only one replica delivers');
      await c.replicas[holder].stop('SIGKILL');
      const survivor = c.replicas[1 - holder];
      for (let i = TAGS / 2; i < TAGS; i++) for (const repo of repos) await push(survivor.url, repo, `t${i}`);
      accept = () => true;

      const tagged = (events: ReceivedEvent[]) => events.filter((e) => e.action === 'push' && e.target.tag !== undefined);
      await receiver.waitFor((events) => pushed.every((p) => tagged(events).some((e) => e.target.repository === p.repo && e.target.tag === p.tag)), 60_000);
      // The blob pushes recorded before the last manifest are in earlier segments: delivered too.
      const blobs = new Set(receiver.events.filter((e) => e.action === 'push' && e.target.tag === undefined).map((e) => `${e.target.repository}@${e.target.digest}`));
      for (const p of pushed) for (const d of p.digests.slice(1)) assert.ok(blobs.has(`${p.repo}@${d}`), `blob push ${p.repo}@${d} delivered`);

      // None invented: every event is one of the pushes made, and a redelivery repeats its event exactly.
      const byId = new Map<string, string>();
      for (const e of receiver.events) {
        const p = pushed.find((x) => x.repo === e.target.repository && x.digests.includes(String(e.target.digest)));
        assert.ok(e.action === 'push' && p && (e.target.tag === undefined || e.target.tag === p.tag), `an event nobody caused: ${JSON.stringify(e)}`);
        const seen = byId.get(e.id);
        assert.ok(seen === undefined || seen === JSON.stringify(e), `event ${e.id} changed between deliveries`);
        byId.set(e.id, JSON.stringify(e));
      }
      // Each repository's tags, by first arrival, in the order they were pushed.
      for (const repo of repos) {
        const first = [...new Set(tagged(receiver.events).filter((e) => e.target.repository === repo).map((e) => e.target.tag))];
        assert.deepEqual(
          first,
          pushed.filter((p) => p.repo === repo).map((p) => p.tag),
        );
      }
    });
  } finally {
    await cluster?.stop();
    await receiver.stop();
  }
});
