import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configSchema, type ConfigInput } from '../../src/config/schema';
import { answerFor } from '../../src/http/error-table';
import { DomainError } from '../../src/oci/errors';
import { configuredMirrors } from '../../src/mirror/mirrors';
import { mirrorRefusal, pullAliasOf, routeRepository, type MirrorRoute, type Route } from '../../src/mirror/routing';

function mirrorsOf(input: ConfigInput) {
  return configuredMirrors(configSchema.parse(input));
}

/** What a route says, in terms a table can spell: which mirror (by prefix), which names, which header. */
type Expected =
  | 'local'
  | { upstream: string; local: string; prefix: string; namespace?: string }
  | { fallback: { upstream: string; local: string; prefix: string } };

function mirrorTarget(r: MirrorRoute) {
  return { upstream: r.upstreamRepository, local: r.localRepository, prefix: r.mirror.prefix, ...(r.namespace === undefined ? {} : { namespace: r.namespace }) };
}

function spell(route: Route): Expected {
  if (route.kind === 'mirror') return mirrorTarget(route);
  return route.fallback === undefined ? 'local' : { fallback: mirrorTarget(route.fallback) };
}

const hubAndOthers = mirrorsOf({
  mirrors: [
    { prefix: 'docker.io', url: 'https://registry-1.docker.io', default: true },
    { prefix: 'ghcr.io', url: 'https://ghcr.io' },
    { prefix: 'mirrors/quay', url: 'https://quay.io', namespaces: ['quay.io', 'quay.example.com:5000'] },
  ],
});

const hub = { prefix: 'docker.io' };
const quay = { prefix: 'mirrors/quay' };

const CASES: Array<[string, string, string | undefined, Expected]> = [
  // By prefix: podman's registries.conf `location = "berth:5000/docker.io"`, or a plain `docker pull berth:5000/docker.io/...`.
  ['a name under a prefix', 'docker.io/library/nginx', undefined, { ...hub, upstream: 'library/nginx', local: 'docker.io/library/nginx' }],
  ['a Docker Hub single-segment name under the prefix', 'docker.io/nginx', undefined, { ...hub, upstream: 'library/nginx', local: 'docker.io/library/nginx' }],
  ['a Docker Hub user repository', 'docker.io/bitnami/redis', undefined, { ...hub, upstream: 'bitnami/redis', local: 'docker.io/bitnami/redis' }],
  ['a GHCR repository', 'ghcr.io/owner/app', undefined, { prefix: 'ghcr.io', upstream: 'owner/app', local: 'ghcr.io/owner/app' }],
  ['a single segment of a non-Docker-Hub mirror stays as is', 'ghcr.io/app', undefined, { prefix: 'ghcr.io', upstream: 'app', local: 'ghcr.io/app' }],
  ['a multi-segment prefix', 'mirrors/quay/coreos/etcd', undefined, { ...quay, upstream: 'coreos/etcd', local: 'mirrors/quay/coreos/etcd' }],
  // containerd's hosts.toml mirrors: the path is the name without its host, `ns` the host.
  ['?ns=docker.io', 'library/nginx', 'docker.io', { ...hub, upstream: 'library/nginx', local: 'docker.io/library/nginx', namespace: 'docker.io' }],
  ['?ns=docker.io with a single segment', 'nginx', 'docker.io', { ...hub, upstream: 'library/nginx', local: 'docker.io/library/nginx', namespace: 'docker.io' }],
  ['?ns= is matched without case and echoed as sent', 'library/nginx', 'Docker.IO', { ...hub, upstream: 'library/nginx', local: 'docker.io/library/nginx', namespace: 'Docker.IO' }],
  ['?ns= with a port, to a mirror whose prefix differs', 'coreos/etcd', 'quay.example.com:5000', { ...quay, upstream: 'coreos/etcd', local: 'mirrors/quay/coreos/etcd', namespace: 'quay.example.com:5000' }],
  ['?ns= to a mirror whose prefix differs', 'coreos/etcd', 'quay.io', { ...quay, upstream: 'coreos/etcd', local: 'mirrors/quay/coreos/etcd', namespace: 'quay.io' }],
  // hosts.toml `[host."http://berth:5000/v2/docker.io"]` with override_path: the prefix is in the path too.
  ['?ns= with the prefix in the path as well', 'docker.io/library/nginx', 'docker.io', { ...hub, upstream: 'library/nginx', local: 'docker.io/library/nginx', namespace: 'docker.io' }],
  // kind/k3s: a node's `localhost:5001` names this registry; containerd sends that host as ns.
  ['?ns= naming no mirror: served locally, no default mirror', 'team/app', 'localhost:5001', 'local'],
  ['?ns= naming no mirror with a Docker Hub name: still local', 'library/nginx', 'quay.example.org', 'local'],
  ['?ns= naming no mirror does not undo a prefix', 'docker.io/library/nginx', 'localhost:5001', { ...hub, upstream: 'library/nginx', local: 'docker.io/library/nginx' }],
  ['an empty ?ns= is no ns', 'library/nginx', '', { fallback: { ...hub, upstream: 'library/nginx', local: 'docker.io/library/nginx' } }],
  // dockerd's registry-mirrors: `/v2/library/nginx/...`, no ns: the default mirror, unless the repository is local.
  ["docker's registry-mirrors", 'library/nginx', undefined, { fallback: { ...hub, upstream: 'library/nginx', local: 'docker.io/library/nginx' } }],
  ['a single segment without ns', 'nginx', undefined, { fallback: { ...hub, upstream: 'library/nginx', local: 'docker.io/library/nginx' } }],
  ['any other name falls back to the default mirror when not local', 'team/app', undefined, { fallback: { ...hub, upstream: 'team/app', local: 'docker.io/team/app' } }],
  ['a name that only starts like a prefix', 'docker.iox/app', undefined, { fallback: { ...hub, upstream: 'docker.iox/app', local: 'docker.io/docker.iox/app' } }],
];

describe('routeRepository: prefixes, ns and the default mirror', () => {
  for (const [why, name, ns, expected] of CASES)
    test(`${why}: ${name}${ns === undefined ? '' : `?ns=${ns}`}`, () => {
      assert.deepEqual(spell(routeRepository(name, ns, hubAndOthers)), expected);
    });

  test('the route carries the configured mirror itself', () => {
    const r = routeRepository('ghcr.io/owner/app', undefined, hubAndOthers);
    assert.equal(r.kind, 'mirror');
    assert.equal(r.kind === 'mirror' && r.mirror.url, 'https://ghcr.io');
  });

  test('without a default mirror, names under no prefix are local', () => {
    const noDefault = mirrorsOf({ mirrors: [{ prefix: 'docker.io', url: 'https://registry-1.docker.io' }] });
    assert.deepEqual(spell(routeRepository('library/nginx', undefined, noDefault)), 'local');
    assert.deepEqual(spell(routeRepository('team/app', undefined, noDefault)), 'local');
    assert.deepEqual(spell(routeRepository('docker.io/library/nginx', undefined, noDefault)), { ...hub, upstream: 'library/nginx', local: 'docker.io/library/nginx' });
  });

  test('with no mirrors at all, everything is local and ns is ignored', () => {
    assert.deepEqual(spell(routeRepository('library/nginx', 'docker.io', [])), 'local');
    assert.deepEqual(spell(routeRepository('docker.io/library/nginx', undefined, [])), 'local');
  });

  test('the bare prefix is no repository: NAME_INVALID', () => {
    assert.throws(
      () => routeRepository('docker.io', undefined, hubAndOthers),
      (e: unknown) => e instanceof DomainError && answerFor(e).error.code === 'NAME_INVALID' && /docker\.io\/library\/nginx/.test(answerFor(e).error.message),
    );
  });

  test('a local name over 255 characters once the prefix is added: NAME_INVALID', () => {
    const long = `library/${'a'.repeat(240)}`;
    assert.throws(() => routeRepository(long, 'docker.io', hubAndOthers), (e: unknown) => e instanceof DomainError && answerFor(e).error.code === 'NAME_INVALID');
  });
});

describe("routeRepository: Distribution's proxy", () => {
  const proxy = mirrorsOf({ proxy: { remoteurl: 'https://registry-1.docker.io', ttl: '24h' } });

  test('is one mirror with an empty prefix, its ttl from proxy.ttl', () => {
    assert.equal(proxy.length, 1);
    assert.equal(proxy[0].prefix, '');
    assert.equal(proxy[0].url, 'https://registry-1.docker.io');
    assert.equal(proxy[0].ttl, 24 * 3_600_000);
    assert.equal(proxy[0].dockerhub, true);
  });

  for (const [why, name, ns, expected] of [
    ['every name is the mirror', 'library/nginx', undefined, { prefix: '', upstream: 'library/nginx', local: 'library/nginx' }],
    ['a user repository', 'bitnami/redis', undefined, { prefix: '', upstream: 'bitnami/redis', local: 'bitnami/redis' }],
    ['Docker Hub single segment', 'nginx', undefined, { prefix: '', upstream: 'library/nginx', local: 'library/nginx' }],
    ['ns is ignored, as Distribution does: no OCI-Namespace', 'library/nginx', 'docker.io', { prefix: '', upstream: 'library/nginx', local: 'library/nginx' }],
  ] as const)
    test(`${why}: ${name}`, () => {
      assert.deepEqual(spell(routeRepository(name, ns, proxy)), expected);
    });

  test('a proxy of another registry keeps single segments', () => {
    const other = mirrorsOf({ proxy: { remoteurl: 'http://127.0.0.1:5001' } });
    assert.deepEqual(spell(routeRepository('app', undefined, other)), { prefix: '', upstream: 'app', local: 'app' });
    assert.equal(other[0].ttl, 168 * 3_600_000);
  });

  test('no proxy and no mirrors: an empty list', () => {
    assert.deepEqual(mirrorsOf({}), []);
  });
});

describe("pullAliasOf: the local name a pull is authorized on, when it is not the name sent", () => {
  const proxy = mirrorsOf({ proxy: { remoteurl: 'https://registry-1.docker.io' } });
  const noDefault = mirrorsOf({ mirrors: [{ prefix: 'docker.io', url: 'https://registry-1.docker.io' }] });
  for (const [why, name, mirrors, expected] of [
    ["the default mirror's", 'library/nginx', hubAndOthers, 'docker.io/library/nginx'],
    ["the default mirror's Docker Hub single segment", 'nginx', hubAndOthers, 'docker.io/library/nginx'],
    ["Docker Hub's shorthand under the prefix", 'docker.io/nginx', hubAndOthers, 'docker.io/library/nginx'],
    ["the proxy's single segment", 'nginx', proxy, 'library/nginx'],
    ['a name under a prefix is its own local name', 'docker.io/library/nginx', hubAndOthers, undefined],
    ['another mirror keeps single segments', 'ghcr.io/app', hubAndOthers, undefined],
    ['without a default mirror, a local name', 'library/nginx', noDefault, undefined],
    ['the bare prefix routes nowhere', 'docker.io', hubAndOthers, undefined],
    ['too long under the prefix routes nowhere', `a/${'b'.repeat(250)}`, hubAndOthers, undefined],
  ] as const)
    test(`${why}: ${name.slice(0, 40)}`, () => {
      assert.equal(pullAliasOf(name, mirrors), expected);
    });
});

describe('mirrorRefusal: a mirrored repository is pull-only', () => {
  const route = routeRepository('docker.io/library/nginx', undefined, hubAndOthers) as MirrorRoute;

  for (const [endpoint, method] of [
    ['manifest', 'GET'],
    ['manifest', 'HEAD'],
    ['blob', 'GET'],
    ['blob', 'HEAD'],
    ['tags', 'GET'],
    ['referrers', 'GET'],
  ] as const)
    test(`${method} ${endpoint} is served`, () => {
      assert.equal(mirrorRefusal(endpoint, method, route), undefined);
    });

  for (const [endpoint, method, allow] of [
    ['manifest', 'PUT', 'GET, HEAD'],
    ['manifest', 'DELETE', 'GET, HEAD'],
    ['blob', 'DELETE', 'GET, HEAD'],
    ['upload-start', 'POST', ''],
    ['upload', 'PATCH', ''],
    ['upload', 'PUT', ''],
    ['upload', 'GET', ''],
    ['upload', 'DELETE', ''],
  ] as const)
    test(`${method} ${endpoint} is UNSUPPORTED (405) with Allow: "${allow}"`, () => {
      const refusal = mirrorRefusal(endpoint, method, route);
      assert.ok(refusal instanceof DomainError);
      const answer = answerFor(refusal);
      assert.equal(answer.status, 405);
      assert.equal(answer.error.code, 'UNSUPPORTED');
      assert.equal(answer.headers.Allow, allow);
      assert.match(answer.error.message, /docker\.io\/library\/nginx.*pull-only/);
    });

  test("the proxy's refusal speaks of the registry", () => {
    const proxied = routeRepository('library/nginx', undefined, mirrorsOf({ proxy: { remoteurl: 'https://registry-1.docker.io' } })) as MirrorRoute;
    const refusal = mirrorRefusal('manifest', 'PUT', proxied);
    assert.ok(refusal instanceof DomainError);
    assert.match(answerFor(refusal).error.message, /pull-through cache.*pull-only/);
  });
});
