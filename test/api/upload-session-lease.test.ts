import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { paths } from '../../src/oci/paths';
import type { UploadLeaseTimings } from '../../src/oci/upload-lease';
import { assertStoreConsistent } from '../helpers/store-check';
import { digestOf, getRaw, randomBlob, repoName, sessionWith } from './helpers';
import { assertOciError, pathOf, rawRequest, startRegistry, withQuery, type RawResponse, type TestRegistry } from './server';

/** A second request waits 1 s; a lease not renewed for 3 s is taken over. */
const TIMINGS: UploadLeaseTimings = { ttlMs: 3_000, renewMs: 200, fenceMs: 1_000, waitMs: 1_000, pollMs: 50 };

/**
 * docs/architecture.md, "Uploads": requests on one upload session exclude each other across
 * processes, so that no byte of a request still streaming reaches a blob another request committed.
 * Two apps on one directory, as http.workers and replicas are.
 */
describe('requests racing on one upload session (filesystem, two processes)', () => {
  let dir: string;
  let a: TestRegistry;
  let b: TestRegistry;
  let store: StorageDriver;
  /** Fails the next upload writer's writes on A, as a disk would. */
  let failWrites = false;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-upload-lease-'));
    store = createFilesystemDriver({ rootDirectory: dir });
    const failing = createFilesystemDriver({ rootDirectory: dir });
    const writer = failing.writer.bind(failing);
    failing.writer = async (...args) => {
      const opened = await writer(...args);
      if (failWrites) {
        failWrites = false;
        const fail = (callback: (err: Error) => void) => callback(Object.assign(new Error('injected'), { code: 'EIO' }));
        opened._write = (_chunk, _encoding, callback) => fail(callback);
        opened._writev = (_chunks, callback) => fail(callback);
      }
      return opened;
    };
    const start = (driver: StorageDriver) => startRegistry({ driver, deps: { uploadLeaseTimings: TIMINGS } });
    [a, b] = [await start(failing), await start(createFilesystemDriver({ rootDirectory: dir }))];
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  async function storedSize(reg: TestRegistry, location: string): Promise<number> {
    return Number(String((await reg.r().get(pathOf(location)).expect(204)).headers.range).split('-')[1]) + 1;
  }

  async function until(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; !(await check()); i++) {
      assert.ok(i < 400, 'timed out');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** A session on A holding `prefix`; its Location. */
  const session = (name: string, prefix: Buffer): Promise<string> => sessionWith(a.r(), name, prefix);

  /**
   * A streamed PATCH on B that sends `first`, waits until it is stored, runs `meanwhile` (another
   * request on the session) and only then sends `second`.
   */
  async function heldPatch<T>(location: string, first: Buffer, second: Buffer, meanwhile: () => Promise<T>): Promise<{ patch: RawResponse; other: T }> {
    const before = await storedSize(a, location);
    let other: T | undefined;
    async function* body() {
      yield first;
      await until(async () => (await storedSize(a, location)) === before + first.length);
      other = await meanwhile();
      yield second;
    }
    const patch = await rawRequest(b.url, { method: 'PATCH', path: pathOf(location), headers: { 'content-type': 'application/octet-stream' }, chunks: body() });
    return { patch, other: other as T };
  }

  it('a PUT committing while a PATCH still streams: the committed blob keeps hashing to its digest', async () => {
    const name = repoName();
    const [prefix, first, second] = [200_000, 100_000, 100_000].map((n) => randomBlob(n).data);
    const location = await session(name, prefix);
    const soFar = digestOf(Buffer.concat([prefix, first]));
    const { patch, other: put } = await heldPatch(location, first, second, () => a.r().put(pathOf(withQuery(location, 'digest', soFar))).set('Content-Length', '0'));
    const got = await getRaw(a.r(), `/v2/${name}/blobs/${soFar}`);
    if (got.status === 200) assert.equal(digestOf(got.body as Buffer), soFar, 'the committed blob no longer holds the bytes of its digest');
    await assertStoreConsistent(dir);

    // The PUT waited for the PATCH and gave up: told where the session stands, which still works.
    assertOciError(put, 416, ['BLOB_UPLOAD_INVALID']);
    assert.equal(put.headers.range, `0-${prefix.length + first.length - 1}`);
    assert.ok(put.headers.location, 'the refusal names the session');
    assert.equal(patch.status, 202, patch.body.toString());
    const all = Buffer.concat([prefix, first, second]);
    assert.equal(patch.headers.range, `0-${all.length - 1}`);
    await a.r().put(pathOf(withQuery(String(patch.headers.location), 'digest', digestOf(all)))).set('Content-Length', '0').expect(201);
    const blob = await getRaw(b.r(), `/v2/${name}/blobs/${digestOf(all)}`).expect(200);
    assert.ok(Buffer.compare(blob.body as Buffer, all) === 0);
    await assertStoreConsistent(dir);
  });

  const uuidOf = (location: string) => new URL(location, 'http://x').pathname.split('/').pop()!;

  /** The numbers of the session's leases: a request deletes its own as it ends. */
  async function leases(name: string, location: string): Promise<string[]> {
    return (await store.list(paths.uploadLeases(name, uuidOf(location))).catch(() => [])).map((p) => path.basename(p));
  }

  const sessionExists = async (name: string, location: string) => (await store.statFile(paths.uploadStartedAt(name, uuidOf(location)))) !== null;

  it('a PATCH racing a PATCH: the second waits, is refused with the Range and Location, and the session goes on', async () => {
    const name = repoName();
    const [prefix, first, second, next] = [1000, 2000, 3000, 4000].map((n) => randomBlob(n).data);
    const location = await session(name, prefix);
    const from = prefix.length;
    const { patch, other } = await heldPatch(location, first, second, async () => {
      const started = performance.now();
      const res = await a.r().patch(pathOf(location)).set('Content-Type', 'application/octet-stream').set('Content-Range', `${from}-${from + next.length - 1}`).send(next);
      return { res, waited: performance.now() - started };
    });
    assertOciError(other.res, 416, ['BLOB_UPLOAD_INVALID']);
    assert.ok(other.waited >= TIMINGS.waitMs - 50, `refused after ${other.waited} ms, without waiting`);
    assert.equal(other.res.headers.range, `0-${prefix.length + first.length - 1}`);
    assert.match(other.res.headers['docker-upload-uuid'], /^[0-9a-f-]{36}$/);
    assert.equal(patch.status, 202);
    assert.deepEqual(await leases(name, location), [], 'a PATCH leaves no lease behind');
    const end = prefix.length + first.length + second.length;
    await a.r().patch(pathOf(String(patch.headers.location))).set('Content-Type', 'application/octet-stream').set('Content-Range', `${end}-${end + next.length - 1}`).send(next).expect(202);
    const all = Buffer.concat([prefix, first, second, next]);
    await b.r().put(pathOf(withQuery(location, 'digest', digestOf(all)))).set('Content-Length', '0').expect(201);
    assert.equal(await sessionExists(name, location), false);
  });

  it('a lease whose holder was killed blocks the session until it expires, and no longer', async () => {
    const name = repoName();
    const prefix = randomBlob(1000).data;
    const location = await session(name, prefix);
    // What a process SIGKILLed in the middle of a PATCH leaves: its lease, never released.
    const lease = paths.uploadLease(name, uuidOf(location), 7);
    await store.createExclusive(lease, Buffer.from(JSON.stringify({ owner: 'killed', renewals: 0 })));
    const killedAt = performance.now();
    const more = randomBlob(500).data;
    const patch = () => a.r().patch(pathOf(location)).set('Content-Type', 'application/octet-stream').set('Content-Range', `1000-1499`).send(more);
    assertOciError(await patch(), 416, ['BLOB_UPLOAD_INVALID']);
    await new Promise((r) => setTimeout(r, Math.max(0, TIMINGS.ttlMs + 500 - (performance.now() - killedAt))));
    const started = performance.now();
    await patch().expect(202);
    assert.ok(performance.now() - started < TIMINGS.waitMs, 'an expired lease is taken over at once');
    assert.deepEqual(await leases(name, location), [], 'the dead lease is deleted by the request that took over, which then released its own');

    // One written long ago (a holder killed before a restart) does not block at all.
    const longAgo = paths.uploadLease(name, uuidOf(location), 9);
    await store.createExclusive(longAgo, Buffer.from('{"owner":"killed"}'));
    const old = new Date(Date.now() - 3_600_000);
    await utimes(path.join(dir, longAgo), old, old);
    const put = performance.now();
    await b.r().put(pathOf(withQuery(location, 'digest', digestOf(Buffer.concat([prefix, more]))))).set('Content-Length', '0').expect(201);
    assert.ok(performance.now() - put < TIMINGS.waitMs);
    assert.equal(await sessionExists(name, location), false);
  });

  it('the lease is released after a refused digest, a client that went away and a storage failure', async () => {
    const name = repoName();
    const prefix = randomBlob(1000).data;

    const refused = await session(name, prefix);
    assertOciError(await a.r().put(pathOf(withQuery(refused, 'digest', digestOf(Buffer.from('other'))))).set('Content-Length', '0'), 400, ['DIGEST_INVALID']);
    assert.equal(await sessionExists(name, refused), false);
    assert.deepEqual(await leases(name, refused), [], 'the session and its leases are gone');

    // A client that disconnects in the middle of its body.
    const cut = await session(name, prefix);
    await new Promise<void>((resolve) => {
      const req = http.request(`${a.url}${pathOf(cut)}`, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' } });
      req.on('error', () => resolve());
      req.write(randomBlob(5000).data);
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    await until(async () => (await leases(name, cut)).length === 0);
    const size = await storedSize(b, cut);
    const started = performance.now();
    await b.r().patch(pathOf(cut)).set('Content-Type', 'application/octet-stream').set('Content-Range', `${size}-${size + 9}`).send(Buffer.alloc(10)).expect(202);
    assert.ok(performance.now() - started < TIMINGS.waitMs, 'the request of a client that went away still held the session');

    // A disk failing in the middle of a PATCH.
    const failed = await session(name, prefix);
    failWrites = true;
    const res = await a.r().patch(pathOf(failed)).set('Content-Type', 'application/octet-stream').set('Content-Range', '1000-1099').send(Buffer.alloc(100));
    assertOciError(res, 503, ['UNAVAILABLE']);
    assert.deepEqual(await leases(name, failed), []);
    await b.r().patch(pathOf(failed)).set('Content-Type', 'application/octet-stream').set('Content-Range', '1000-1099').send(Buffer.alloc(100)).expect(202);
  });

  it('the purge removes sessions with their leases', async () => {
    const name = repoName();
    const released = await session(name, randomBlob(100).data);
    const held = await session(name, randomBlob(100).data);
    await store.createExclusive(paths.uploadLease(name, uuidOf(held), 2), Buffer.from('{"owner":"running"}'));
    assert.deepEqual([await leases(name, released), await leases(name, held)], [[], ['0000000000000002']]);
    const purged = await a.app.registry.uploads.purge(0);
    for (const location of [released, held]) {
      assert.deepEqual(await leases(name, location), []);
      assert.ok(purged.includes(paths.uploadDir(name, uuidOf(location))));
      assert.equal((await store.stat(paths.uploadDir(name, uuidOf(location))).catch(() => null)), null);
    }
    await assertStoreConsistent(dir);
  });
});
