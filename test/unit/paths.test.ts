import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leaseNumber, paths } from '../../src/oci/paths';
import { parseDigest } from '../../src/oci/digest';

const d = parseDigest('sha256:' + 'ab'.repeat(32));
const s = parseDigest('sha256:' + 'cd'.repeat(32));
const hex = 'ab'.repeat(32);
const R = '/docker/registry/v2';

test('every storage path matches Distribution v2 layout literally', () => {
  assert.equal(paths.blobData(d), `${R}/blobs/sha256/ab/${hex}/data`);
  assert.equal(paths.blobDir(d), `${R}/blobs/sha256/ab/${hex}`);
  assert.equal(paths.blobsRoot, `${R}/blobs`);
  assert.equal(paths.layersDir('a/b'), `${R}/repositories/a/b/_layers`);
  assert.equal(paths.repository('a/b'), `${R}/repositories/a/b`);
  assert.equal(paths.layerLink('a/b', d), `${R}/repositories/a/b/_layers/sha256/${hex}/link`);
  assert.equal(paths.layerLinkDir('a/b', d), `${R}/repositories/a/b/_layers/sha256/${hex}`);
  assert.equal(paths.manifestsDir('a'), `${R}/repositories/a/_manifests`);
  assert.equal(paths.revisionLink('a', d), `${R}/repositories/a/_manifests/revisions/sha256/${hex}/link`);
  assert.equal(paths.revisionDir('a', d), `${R}/repositories/a/_manifests/revisions/sha256/${hex}`);
  assert.equal(paths.revisionsDir('a'), `${R}/repositories/a/_manifests/revisions`);
  assert.equal(paths.tagsDir('a'), `${R}/repositories/a/_manifests/tags`);
  assert.equal(paths.tagDir('a', 'v1'), `${R}/repositories/a/_manifests/tags/v1`);
  assert.equal(paths.tagCurrentLink('a', 'v1'), `${R}/repositories/a/_manifests/tags/v1/current/link`);
  assert.equal(paths.tagIndexLink('a', 'v1', d), `${R}/repositories/a/_manifests/tags/v1/index/sha256/${hex}/link`);
  assert.equal(paths.uploadsDir('a'), `${R}/repositories/a/_uploads`);
  assert.equal(paths.uploadDir('a', 'u-1'), `${R}/repositories/a/_uploads/u-1`);
  assert.equal(paths.uploadData('a', 'u-1'), `${R}/repositories/a/_uploads/u-1/data`);
  assert.equal(paths.uploadStartedAt('a', 'u-1'), `${R}/repositories/a/_uploads/u-1/startedat`);
  assert.equal(paths.uploadHashState('a', 'u-1'), `${R}/repositories/a/_uploads/u-1/berth-sha256-state`);
  assert.equal(paths.uploadLeases('a', 'u-1'), `${R}/repositories/a/_uploads/u-1/berth-leases`);
  assert.equal(paths.uploadLease('a', 'u-1', 3), `${R}/repositories/a/_uploads/u-1/berth-leases/0000000000000003`);
  assert.equal(leaseNumber(paths.uploadLease('a', 'u-1', 3)), 3);
});

test("the alias of a blob pushed by sha512 lies under /berth, outside Distribution's layout", () => {
  const x = parseDigest('sha512:' + 'ef'.repeat(64));
  assert.equal(paths.blobAlias(x), `/berth/blob-aliases/sha512/ef/${'ef'.repeat(64)}`);
});

test('the referrers index sits beside the other per-repository links', () => {
  assert.equal(paths.referrersIndexed('a'), `${R}/repositories/a/_referrers/indexed`);
  assert.equal(paths.referrersDir('a', s), `${R}/repositories/a/_referrers/sha256/${'cd'.repeat(32)}`);
  assert.equal(paths.referrerLink('a', s, d), `${R}/repositories/a/_referrers/sha256/${'cd'.repeat(32)}/sha256/${hex}/link`);
  assert.equal(paths.referrerLinkDir('a', s, d), `${R}/repositories/a/_referrers/sha256/${'cd'.repeat(32)}/sha256/${hex}`);
});

test("Berth's own state lies under /berth, and lease numbers list in numeric order", () => {
  assert.equal(paths.gcSweepState, '/berth/gc/sweep');
  assert.equal(paths.gcSweepCandidates, '/berth/gc/candidates');
  assert.equal(paths.gcClock, '/berth/gc/mark-started');
  assert.equal(paths.instance('abc'), '/berth/instances/abc');
  assert.equal(paths.probe('abc'), '/berth/probes/abc');
  assert.equal(paths.mirrorTagCheck('docker.io/library/nginx', 'latest'), '/berth/mirror/tag-checks/docker.io/library/nginx/_tags/latest');
  assert.equal(paths.mirrorPulls('docker.io/library/nginx'), '/berth/mirror/pulls/docker.io/library/nginx/_manifests');
  assert.equal(paths.mirrorPull('docker.io/library/nginx', parseDigest(`sha256:${'a'.repeat(64)}`)), `/berth/mirror/pulls/docker.io/library/nginx/_manifests/sha256/${'a'.repeat(64)}`);
  assert.equal(paths.eventSegments, '/berth/events/segments');
  assert.equal(paths.eventSegment('s1'), '/berth/events/segments/s1');
  assert.equal(paths.eventsDelivered('hook'), '/berth/events/delivered/hook');
  assert.equal(paths.eventDelivered('hook', 's1'), '/berth/events/delivered/hook/s1');
  assert.equal(paths.eventLeases('hook'), '/berth/events/leases/hook');
  assert.equal(paths.eventLease('hook', 3), '/berth/events/leases/hook/0000000000000003');
  assert.equal(paths.gcLease(12), '/berth/gc/leases/0000000000000012');
  assert.ok(paths.gcLease(9) < paths.gcLease(10));
  assert.equal(leaseNumber(paths.gcLease(12)), 12);
  assert.equal(leaseNumber('/berth/gc/leases/12'), undefined);
  assert.equal(leaseNumber('/berth/gc/leases/~tmp-0000000000000'), undefined);
});
