import assert from 'node:assert/strict';
import request from 'supertest';
import { content, descriptor, manifestDescriptor, MT, ociIndex, ociManifest, pushBlob, pushManifest } from '../api/helpers';
import { USERS } from '../auth/helpers';
import type { ReceivedEvent } from '../helpers/event-receiver';

/** The same bytes on both registries, so that digests, sizes and URLs compare as they are. */
const CONFIG = content(Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'));
const LAYER = content(Buffer.from('a layer for comparing notifications\n'.repeat(20)));
const MANIFEST = ociManifest({ config: descriptor(CONFIG, MT.ociConfig), layers: [descriptor(LAYER, MT.ociLayer)] });
/** An index, whose references Distribution reports without the children's platform. */
const INDEX = ociIndex([manifestDescriptor(MANIFEST, { platform: { architecture: 'amd64', os: 'linux' }, annotations: { 'org.example.note': 'compare' } })]);
export const DIGESTS = { config: CONFIG.digest, layer: LAYER.digest, manifest: MANIFEST.digest };
export const USER_AGENT = 'berth-compare/1.0 (notifications)';
/** A client-chosen X-Forwarded-For: what Distribution reports as the client's address. */
export const FORGED_ADDR = '203.0.113.7';

/** Each step's status, so that a registry refusing one (a tag delete on Distribution 2.8) shows. */
export type Statuses = Record<string, number>;

/**
 * The requests both registries get, as alice with basic auth: push, pulls by GET and HEAD, a pull
 * with X-Forwarded-For, a mount, a blob delete, a tag delete, a delete by digest. The last step's
 * events end each registry's sequence.
 */
export async function exercise(url: string): Promise<Statuses> {
  const agent = request.agent(url).auth('alice', USERS.alice).set('User-Agent', USER_AGENT);
  const s: Statuses = {};
  await pushBlob(agent, 'compare/repo', CONFIG);
  await pushBlob(agent, 'compare/repo', LAYER);
  s.push = (await pushManifest(agent, 'compare/repo', 'v1', MANIFEST)).status;
  s.pushV2 = (await pushManifest(agent, 'compare/repo', 'v2', MANIFEST)).status;
  s.pushIndex = (await pushManifest(agent, 'compare/repo', 'multi', INDEX)).status;
  s.getTag = (await agent.get('/v2/compare/repo/manifests/v1').set('Accept', MT.ociManifest)).status;
  s.headTag = (await agent.head('/v2/compare/repo/manifests/v1').set('Accept', MT.ociManifest)).status;
  s.headDigest = (await agent.head(`/v2/compare/repo/manifests/${MANIFEST.digest}`).set('Accept', MT.ociManifest)).status;
  s.notModified = (await agent.get('/v2/compare/repo/manifests/v1').set('Accept', MT.ociManifest).set('If-None-Match', `"${MANIFEST.digest}"`)).status;
  s.getBlob = (await agent.get(`/v2/compare/repo/blobs/${LAYER.digest}`)).status;
  // target.url follows what a proxy says the registry's address is, in both.
  s.headBlob = (await agent.head(`/v2/compare/repo/blobs/${LAYER.digest}`).set('X-Forwarded-Proto', 'https').set('X-Forwarded-Host', 'registry.example.com')).status;
  s.forwarded = (await agent.get(`/v2/compare/repo/blobs/${CONFIG.digest}`).set('X-Forwarded-For', `${FORGED_ADDR}, 10.0.0.1`)).status;
  s.mount = (await agent.post(`/v2/compare/other/blobs/uploads/?mount=${LAYER.digest}&from=compare/repo`).set('Content-Length', '0')).status;
  s.deleteBlob = (await agent.delete(`/v2/compare/other/blobs/${LAYER.digest}`)).status;
  s.deleteTag = (await agent.delete('/v2/compare/repo/manifests/v2')).status;
  s.deleteDigest = (await agent.delete(`/v2/compare/repo/manifests/${MANIFEST.digest}`)).status;
  return s;
}

/** The sequence is complete once the delete by digest has reported the tag left with it. */
export function sequenceDone(events: ReceivedEvent[]): boolean {
  return events.some(isManifestDelete);
}

export function isManifestDelete(e: ReceivedEvent): boolean {
  return e.action === 'delete' && e.target.digest === MANIFEST.digest;
}

/** Go's time.Time in JSON: RFC 3339, up to nine fractional digits with trailing zeros cut. */
const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?(Z|[+-]\d\d:\d\d)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * An event with what legitimately differs between two registries (ids, times, ports, instance)
 * checked for its form and then replaced by a placeholder, keeping the order of keys: a receiver
 * parsing the JSON sees every other value as it is.
 */
export function normalise(e: ReceivedEvent, registryUrl: string, hostname: string): unknown {
  const origin = new URL(registryUrl);
  assert.match(e.id, UUID, 'event id');
  assert.match(e.timestamp, RFC3339_NANO, 'timestamp');
  assert.match(String(e.request.id), UUID, 'request id');
  assert.match(String(e.source.instanceID), UUID, 'source instanceID');
  assert.match(String(e.source.addr), new RegExp(`^${hostname}:\\d+$`), 'source addr');
  const text = JSON.stringify(e)
    .replaceAll(origin.origin, 'http://REGISTRY')
    .replaceAll(`"host":"${origin.host}"`, '"host":"REGISTRY"')
    .replace(/"addr":"127\.0\.0\.1:\d+"/, '"addr":"127.0.0.1:PORT"')
    .replace(/"addr":"[^"]+:\d+"(?=,"instanceID")/, '"addr":"SOURCE"');
  const out = JSON.parse(text) as Record<string, unknown>;
  return { ...out, id: 'ID', timestamp: 'TIME', request: { ...(out.request as object), id: 'REQUEST' }, source: { ...(out.source as object), instanceID: 'INSTANCE' } };
}
