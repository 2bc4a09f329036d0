import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { content, getRaw, randomBlob, repoName, unknownDigest, type Content } from './helpers';
import { assertOciError, pathOf, rawRequest, startRegistry, withQuery, type TestRegistry } from './server';

/** Spec "Pushing blobs": every upload shape real clients send, ending in a pullable blob. */
describe('blob uploads', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => reg.close());

  async function assertPullable(name: string, blob: Content): Promise<void> {
    const res = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.ok(Buffer.compare(res.body as Buffer, blob.data) === 0, 'pulled bytes differ from pushed bytes');
    assert.equal(res.headers['docker-content-digest'], blob.digest);
  }

  async function startSession(name: string): Promise<string> {
    const res = await reg.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
    assert.ok(res.headers.location, 'POST must answer with a Location');
    return res.headers.location;
  }

  it('POST answers 202 with Location and Docker-Upload-UUID', async () => {
    const name = repoName();
    const res = await reg.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
    const uuid = res.headers['docker-upload-uuid'];
    assert.ok(uuid, 'Docker-Upload-UUID missing');
    assert.ok(pathOf(res.headers.location).startsWith(`/v2/${name}/blobs/uploads/`));
    assert.ok(pathOf(res.headers.location).includes(uuid), 'the Location names the upload id');
    // Not required by the spec on POST, but Distribution sends it and clients parse it if present.
    if (res.headers.range !== undefined) assert.equal(res.headers.range, '0-0');
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  it('accepts one streamed PATCH with neither Content-Range nor Content-Length (docker engine)', async () => {
    const name = repoName();
    const blob = randomBlob(3 * 1024 * 1024 + 17);
    const location = await startSession(name);
    const chunks: Buffer[] = [];
    for (let i = 0; i < blob.size; i += 256 * 1024) chunks.push(blob.data.subarray(i, i + 256 * 1024));
    const patched = await rawRequest(reg.url, {
      method: 'PATCH',
      path: pathOf(location),
      headers: { 'Content-Type': 'application/octet-stream' },
      chunks,
    });
    assert.equal(patched.status, 202, patched.body.toString());
    assert.equal(patched.headers['transfer-encoding'], undefined);
    assert.equal(patched.headers.range, `0-${blob.size - 1}`);
    assert.ok(patched.headers.location);
    const put = await reg.r().put(pathOf(withQuery(patched.headers.location, 'digest', blob.digest))).expect(201);
    assert.equal(put.headers['docker-content-digest'], blob.digest);
    assert.equal(pathOf(put.headers.location), `/v2/${name}/blobs/${blob.digest}`);
    await assertPullable(name, blob);
  });

  it('accepts POST then one monolithic PUT with the whole body (containerd)', async () => {
    const name = repoName();
    const blob = randomBlob(70_000);
    const location = await startSession(name);
    const put = await reg
      .r()
      .put(pathOf(withQuery(location, 'digest', blob.digest)))
      .set('Content-Type', 'application/octet-stream')
      .send(blob.data)
      .expect(201);
    assert.equal(put.headers['docker-content-digest'], blob.digest);
    await assertPullable(name, blob);
  });

  it('accepts a single POST with ?digest= (201, pullable Location)', async () => {
    const name = repoName();
    const blob = randomBlob(4096);
    const res = await reg
      .r()
      .post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`)
      .set('Content-Type', 'application/octet-stream')
      .send(blob.data)
      .expect(201);
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    const pulled = await getRaw(reg.r(), pathOf(res.headers.location)).expect(200);
    assert.ok(Buffer.compare(pulled.body as Buffer, blob.data) === 0);
  });

  it('a single POST with a digest that does not match is 400 DIGEST_INVALID and stores nothing', async () => {
    const name = repoName();
    const blob = randomBlob(100);
    const claimed = unknownDigest();
    const res = await reg.r().post(`/v2/${name}/blobs/uploads/?digest=${claimed}`).set('Content-Type', 'application/octet-stream').send(blob.data);
    assertOciError(res, 400, ['DIGEST_INVALID']);
    await reg.r().head(`/v2/${name}/blobs/${claimed}`).expect(404);
    await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(404);
  });

  it('a request body cut short (client gone mid-upload) never makes a blob visible', async () => {
    const name = repoName();
    const sent = randomBlob(50);
    const location = await startSession(name);
    // Claim 100 bytes, send 50 whose digest is the one in the URL, then disconnect.
    const head =
      `PUT ${pathOf(withQuery(location, 'digest', sent.digest))} HTTP/1.1\r\n` +
      `Host: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n`;
    const socket = net.connect(Number(new URL(reg.url).port), '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(head);
    socket.write(sent.data);
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await reg.r().head(`/v2/${name}/blobs/${sent.digest}`).expect(404);
    await reg.r().get('/v2/').expect(200);
  });

  it('stores a zero-byte blob', async () => {
    const name = repoName();
    const blob = content(Buffer.alloc(0));
    const location = await startSession(name);
    await reg.r().put(pathOf(withQuery(location, 'digest', blob.digest))).expect(201);
    const head = await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.equal(head.headers['content-length'], '0');
    await assertPullable(name, blob);
  });

  it('verifies sha512 digests too', async () => {
    const name = repoName();
    const blob = randomBlob(10_000, 'sha512');
    assert.match(blob.digest, /^sha512:[a-f0-9]{128}$/);
    const location = await startSession(name);
    await reg.r().put(pathOf(withQuery(location, 'digest', blob.digest))).set('Content-Type', 'application/octet-stream').send(blob.data).expect(201);
    await assertPullable(name, blob);
    const wrong = `sha512:${'0'.repeat(128)}`;
    const again = await startSession(name);
    const res = await reg.r().put(pathOf(withQuery(again, 'digest', wrong))).set('Content-Type', 'application/octet-stream').send(blob.data);
    assertOciError(res, 400, ['DIGEST_INVALID']);
  });

  it('a final PUT with the wrong digest is 400 DIGEST_INVALID and nothing becomes visible', async () => {
    const name = repoName();
    const blob = randomBlob(2048);
    const claimed = unknownDigest();
    const location = await startSession(name);
    const res = await reg.r().put(pathOf(withQuery(location, 'digest', claimed))).set('Content-Type', 'application/octet-stream').send(blob.data);
    assertOciError(res, 400, ['DIGEST_INVALID']);
    await reg.r().head(`/v2/${name}/blobs/${claimed}`).expect(404);
    await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(404);
  });

  for (const [label, digest] of [
    ['not hex', 'sha256:xyz'],
    ['too short', `sha256:${'a'.repeat(63)}`],
    ['upper-case hex', `sha256:${'A'.repeat(64)}`],
    ['no algorithm', 'a'.repeat(64)],
    ['empty', ''],
  ] as const) {
    it(`a malformed digest (${label}) on the final PUT is 400 DIGEST_INVALID`, async () => {
      const name = repoName();
      const location = await startSession(name);
      const res = await reg.r().put(pathOf(withQuery(location, 'digest', digest))).set('Content-Type', 'application/octet-stream').send(Buffer.from('x'));
      assertOciError(res, 400, ['DIGEST_INVALID']);
    });
  }

  it('an unsupported (well-formed) digest algorithm is a 400', async () => {
    const name = repoName();
    const location = await startSession(name);
    const res = await reg.r().put(pathOf(withQuery(location, 'digest', `md5:${'a'.repeat(32)}`))).send(Buffer.from('x'));
    assertOciError(res, 400, ['DIGEST_INVALID', 'UNSUPPORTED']);
    const post = await reg.r().post(`/v2/${name}/blobs/uploads/?digest=sha384:${'b'.repeat(96)}`).send(Buffer.from('x'));
    assertOciError(post, 400, ['DIGEST_INVALID', 'UNSUPPORTED']);
  });

  it('a final PUT without ?digest= is rejected with a 400', async () => {
    const name = repoName();
    const location = await startSession(name);
    const res = await reg.r().put(pathOf(location)).send(Buffer.from('abc'));
    assertOciError(res, 400, ['DIGEST_INVALID', 'BLOB_UPLOAD_INVALID']);
  });

  it('two clients pushing the same blob at once both succeed', async () => {
    const name = repoName();
    const blob = randomBlob(256 * 1024);
    const [a, b] = await Promise.all([startSession(name), startSession(name)]);
    const results = await Promise.all(
      [a, b].map((loc) => reg.r().put(pathOf(withQuery(loc, 'digest', blob.digest))).set('Content-Type', 'application/octet-stream').send(blob.data)),
    );
    assert.deepEqual(results.map((r) => r.status), [201, 201]);
    await assertPullable(name, blob);
  });

  it('pushing a blob that already exists succeeds again', async () => {
    const name = repoName();
    const blob = randomBlob(300);
    for (let i = 0; i < 2; i++) {
      await reg.r().post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`).set('Content-Type', 'application/octet-stream').send(blob.data).expect(201);
    }
    await assertPullable(name, blob);
  });

  it('Location honours X-Forwarded-Proto and X-Forwarded-Host', async () => {
    const name = repoName();
    const res = await reg
      .r()
      .post(`/v2/${name}/blobs/uploads/`)
      .set('X-Forwarded-Proto', 'https')
      .set('X-Forwarded-Host', 'registry.example.test:8443')
      .set('Content-Length', '0')
      .expect(202);
    assert.ok(
      res.headers.location.startsWith(`https://registry.example.test:8443/v2/${name}/blobs/uploads/`),
      `unexpected Location ${res.headers.location}`,
    );
    const blob = randomBlob(10);
    const put = await reg
      .r()
      .put(pathOf(withQuery(res.headers.location, 'digest', blob.digest)))
      .set('X-Forwarded-Proto', 'https')
      .set('X-Forwarded-Host', 'registry.example.test:8443')
      .send(blob.data)
      .expect(201);
    assert.equal(put.headers.location, `https://registry.example.test:8443/v2/${name}/blobs/${blob.digest}`);
  });

  it('every Location is usable as-is by a plain HTTP client', async () => {
    const name = repoName();
    const blob = randomBlob(5000);
    const post = await fetch(`${reg.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(post.status, 202);
    const loc1 = post.headers.get('location');
    assert.ok(loc1);
    const patch = await fetch(new URL(loc1, reg.url), {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${2999}` },
      body: blob.data.subarray(0, 3000),
    });
    assert.equal(patch.status, 202);
    const loc2 = patch.headers.get('location');
    assert.ok(loc2);
    const put = await fetch(withQuery(new URL(loc2, reg.url).toString(), 'digest', blob.digest), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `3000-${blob.size - 1}` },
      body: blob.data.subarray(3000),
    });
    assert.equal(put.status, 201);
    const blobLocation = put.headers.get('location');
    assert.ok(blobLocation);
    const pulled = await fetch(new URL(blobLocation, reg.url));
    assert.equal(pulled.status, 200);
    assert.ok(Buffer.compare(Buffer.from(await pulled.arrayBuffer()), blob.data) === 0);
  });
});
