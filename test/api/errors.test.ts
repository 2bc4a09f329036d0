import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { INTERNAL_MESSAGE, MT, pushBlob, sendBytes, pushImage, randomBlob, repoName, throwingDriver, unknownDigest } from './helpers';
import { assertOciError, pathOf, rawRequest, startRegistry, type TestRegistry, useRegistry, withQuery } from './server';

describe('API base and error surface', () => {
  const reg = useRegistry();

  it('GET /v2/ is 200 {} with Docker-Distribution-API-Version', async () => {
    for (const path of ['/v2/', '/v2']) {
      const res = await reg.r().get(path).expect(200);
      assert.deepEqual(res.body, {});
      assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
      assert.match(res.headers['content-type'], /^application\/json/);
    }
  });

  it('unknown routes are 404 JSON errors with the API version header', async () => {
    for (const path of ['/v2/x/unknown', '/v2/x/blobs', '/nope', '/', '/v2/x/tags', '/v3/']) {
      const res = await reg.r().get(path);
      assertOciError(res, 404, ['UNSUPPORTED', 'NAME_UNKNOWN', 'NOT_FOUND', 'BLOB_UNKNOWN', 'MANIFEST_UNKNOWN']);
    }
  });

  const wrongMethods: Array<[string, string]> = [
    ['POST', '/v2/x/manifests/latest'],
    ['PATCH', `/v2/x/blobs/${unknownDigest()}`],
    ['PUT', `/v2/x/blobs/${unknownDigest()}`],
    ['POST', '/v2/x/tags/list'],
    ['DELETE', '/v2/x/tags/list'],
    ['PUT', '/v2/_catalog'],
    ['DELETE', '/v2/'],
    ['POST', `/v2/x/referrers/${unknownDigest()}`],
    ['GET', '/v2/x/blobs/uploads/'],
  ];
  for (const [method, path] of wrongMethods) {
    it(`${method} ${path.slice(0, 30)} is 405 UNSUPPORTED JSON`, async () => {
      const res = await rawRequest(reg.url, { method, path, headers: { 'Content-Length': '0' } });
      assertOciError(res, 405, ['UNSUPPORTED']);
    });
  }

  const badNames: Array<[string, string]> = [
    ['upper case', 'Upper/case'],
    ['dot-dot component', 'a/../b'],
    ['double dot', 'a..b'],
    ['empty component', 'a//b'],
    ['leading separator', '-a'],
    ['trailing separator', 'a_'],
    ['trailing slash', 'a/'],
    ['leading slash', '/a'],
    ['encoded dot-dot', 'a/%2e%2e/b'],
    ['encoded slash-dot-dot', 'a%2F..%2Fb'],
    ['nul byte', 'a%00b'],
    ['bad percent-encoding', 'a%zz'],
    ['three underscores', 'a___b'],
    ['over 255 characters', 'a'.repeat(256)],
    ['over 255 in components', Array.from({ length: 30 }, () => 'abcdefghi').join('/')],
  ];
  for (const [label, name] of badNames) {
    it(`a repository name with ${label} is a 4xx JSON error (NAME_INVALID)`, async () => {
      const paths = [
        ['GET', `/v2/${name}/tags/list`],
        ['GET', `/v2/${name}/manifests/latest`],
        ['PUT', `/v2/${name}/manifests/latest`],
        ['HEAD', `/v2/${name}/blobs/${unknownDigest()}`],
        ['POST', `/v2/${name}/blobs/uploads/`],
      ];
      for (const [method, path] of paths) {
        const res = await rawRequest(reg.url, { method, path, headers: { 'Content-Length': '0' } });
        if (method === 'HEAD') {
          assert.ok(res.status === 400 || res.status === 404, `${method} ${path}: ${res.status}`);
          continue;
        }
        // NAME_INVALID is preferred; a router that cannot match the name may answer 404.
        assertOciError(res, [400, 404], ['NAME_INVALID', 'NAME_UNKNOWN', 'UNSUPPORTED']);
      }
      const res = await rawRequest(reg.url, { method: 'GET', path: `/v2/${name}/tags/list` });
      assertOciError(res, 400, ['NAME_INVALID']);
    });
  }

  it('a name of exactly 255 characters is valid', async () => {
    const name = `${'a'.repeat(127)}/${'b'.repeat(127)}`;
    assert.equal(name.length, 255);
    const blob = randomBlob(5);
    await pushBlob(reg.r(), name, blob);
    await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(200);
  });

  it('a mount from an invalid name is a normal session or a 400, never a 500', async () => {
    const name = repoName();
    const res = await reg.r().post(`/v2/${name}/blobs/uploads/?mount=${unknownDigest()}&from=Bad..Name`).set('Content-Length', '0');
    if (res.status !== 202) assertOciError(res, 400, ['NAME_INVALID']);
  });

  it('an absurd Content-Length on an upload is a 4xx, never a 500', async () => {
    const name = repoName();
    const start = await reg.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
    const res = await rawRequest(reg.url, {
      method: 'PATCH',
      path: pathOf(start.headers.location),
      headers: { 'Content-Length': 'abc', 'Content-Range': '0-1' },
    });
    assert.ok(res.status >= 400 && res.status < 500, `got ${res.status}`);
  });
});

describe('storage failures', () => {
  let reg: TestRegistry;
  let control: ReturnType<typeof throwingDriver>;
  let name: string;
  let image: Awaited<ReturnType<typeof pushImage>>;
  let uploadLocation: string;

  before(async () => {
    control = throwingDriver(createMemoryDriver());
    reg = await startRegistry({ driver: control.driver });
    name = repoName();
    image = await pushImage(reg.r(), name, 'latest');
    uploadLocation = (await reg.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202)).headers.location;
    control.setFailing('throw');
  });
  after(async () => reg.close());

  function assertOpaque500(res: { status: number; headers: Record<string, unknown>; text?: string; body?: unknown }, what: string): void {
    assertOciError(res as never, 500, ['UNKNOWN']);
    const text = res.text ?? '';
    for (const secret of [INTERNAL_MESSAGE, 'secret-internal-detail', '/srv/berth', 'EIO', 'at ', '.js:', 'docker/registry/v2']) {
      assert.ok(!text.includes(secret), `${what}: the 500 body leaks "${secret}": ${text}`);
    }
  }

  it('every read path answers 500 UNKNOWN with no internals in the body', async () => {
    const requests: Array<[string, () => Promise<unknown>]> = [
      ['GET manifest by tag', () => reg.r().get(`/v2/${name}/manifests/latest`)],
      ['GET manifest by digest', () => reg.r().get(`/v2/${name}/manifests/${image.manifest.digest}`)],
      ['GET blob', () => reg.r().get(`/v2/${name}/blobs/${image.layer.digest}`)],
      ['GET tags', () => reg.r().get(`/v2/${name}/tags/list`)],
      ['GET catalog', () => reg.r().get('/v2/_catalog')],
      ['GET referrers', () => reg.r().get(`/v2/${name}/referrers/${image.manifest.digest}`)],
      ['GET upload status', () => reg.r().get(pathOf(uploadLocation))],
    ];
    for (const [what, send] of requests) assertOpaque500((await send()) as never, what);
  });

  it('every write path answers 500 UNKNOWN with no internals in the body', async () => {
    const blob = randomBlob(100);
    const requests: Array<[string, () => Promise<unknown>]> = [
      ['POST upload', () => reg.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0')],
      ['POST ?digest=', () => reg.r().post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`).send(blob.data)],
      ['PATCH', () => reg.r().patch(pathOf(uploadLocation)).set('Content-Range', '0-99').send(blob.data)],
      ['PUT upload', () => reg.r().put(pathOf(withQuery(uploadLocation, 'digest', blob.digest))).send(blob.data)],
      ['PUT manifest', () => sendBytes(reg.r().put(`/v2/${name}/manifests/other`).set('Content-Type', MT.ociManifest), image.manifest.data)],
      ['DELETE manifest', () => reg.r().delete(`/v2/${name}/manifests/latest`)],
      ['DELETE blob', () => reg.r().delete(`/v2/${name}/blobs/${image.layer.digest}`)],
      ['mount', () => reg.r().post(`/v2/${repoName()}/blobs/uploads/?mount=${image.layer.digest}&from=${name}`)],
    ];
    for (const [what, send] of requests) assertOpaque500((await send()) as never, what);
  });

  it('the registry serves again once storage recovers', async () => {
    control.setFailing('off');
    try {
      await reg.r().head(`/v2/${name}/manifests/latest`).expect(200);
      await reg.r().head(`/v2/${name}/blobs/${image.layer.digest}`).expect(200);
    } finally {
      control.setFailing('throw');
    }
  });

  it('a blob read that fails mid-stream never looks like a complete response, and the server lives on', async () => {
    const blob = randomBlob(256 * 1024);
    control.setFailing('off');
    try {
      await pushBlob(reg.r(), name, blob);
      control.setFailing('mid-stream');
      const outcome = await rawRequest(reg.url, { method: 'GET', path: `/v2/${name}/blobs/${blob.digest}` }).catch((err: Error) => err);
      if (!(outcome instanceof Error)) {
        const declared = Number(outcome.headers['content-length']);
        const complete = outcome.status === 200 && outcome.body.length === declared && Buffer.compare(outcome.body, blob.data) === 0;
        assert.ok(!complete, 'a failed read must not be delivered as the whole blob');
        if (outcome.status === 200) assert.ok(outcome.body.length < blob.size, 'a truncated body must be cut short, not padded');
        else assertOciError(outcome, 500, ['UNKNOWN']);
      }
      control.setFailing('off');
      await reg.r().get('/v2/').expect(200);
    } finally {
      control.setFailing('throw');
    }
  });
});
