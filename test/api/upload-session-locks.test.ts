import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Response } from 'supertest';
import { createFilesystemDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { paths } from '../../src/oci/paths';
import { UPLOAD_LEASE_TIMINGS } from '../../src/oci/upload-lease';
import { assertStoreConsistent } from '../helpers/store-check';
import { digestOf, getRaw, randomBlob, repoName, sessionWith } from './helpers';
import { assertOciError, pathOf, rawRequest, startRegistry, testConfig, withQuery, type TestRegistry } from './server';

/**
 * Without a configured http.secret only this process (or its group of workers) can reach a session,
 * so requests on one exclude each other in memory (docs/architecture.md, "Uploads"): the same
 * outcome as the lease in storage of upload-session-lease.test.ts, without its storage operations.
 */
describe('requests racing on one upload session (filesystem, one process without http.secret)', () => {
  let dir: string;
  let reg: TestRegistry;
  let store: StorageDriver;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-upload-locks-'));
    store = createFilesystemDriver({ rootDirectory: dir });
    reg = await startRegistry({
      driver: createFilesystemDriver({ rootDirectory: dir }),
      config: testConfig({ http: { secret: undefined } }),
      deps: { uploadLeaseTimings: { ...UPLOAD_LEASE_TIMINGS, waitMs: 500 } },
    });
  });
  after(async () => {
    await reg?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const uuidOf = (location: string) => new URL(location, 'http://x').pathname.split('/').pop()!;
  const storedSize = async (location: string) => Number(String((await reg.r().get(pathOf(location)).expect(204)).headers.range).split('-')[1]) + 1;

  it('a PUT while a PATCH streams waits, is refused with the Range, writes no lease, and the session goes on', async () => {
    const name = repoName();
    const [prefix, first, second] = [200_000, 100_000, 100_000].map((n) => randomBlob(n).data);
    const location = await sessionWith(reg.r(), name, prefix);
    const soFar = digestOf(Buffer.concat([prefix, first]));
    let put: Response | undefined;
    let leaseDir: string[] | undefined;
    async function* body() {
      yield first;
      for (let i = 0; (await storedSize(location)) !== prefix.length + first.length; i++) {
        assert.ok(i < 400, 'the first half was never stored');
        await new Promise((r) => setTimeout(r, 25));
      }
      put = await reg.r().put(pathOf(withQuery(location, 'digest', soFar))).set('Content-Length', '0');
      leaseDir = await store.list(paths.uploadLeases(name, uuidOf(location))).catch(() => []);
      yield second;
    }
    const patch = await rawRequest(reg.url, { method: 'PATCH', path: pathOf(location), headers: { 'content-type': 'application/octet-stream' }, chunks: body() });
    assertOciError(put!, 416, ['BLOB_UPLOAD_INVALID']);
    assert.equal(put!.headers.range, `0-${prefix.length + first.length - 1}`);
    assert.deepEqual(leaseDir, [], 'a lease was written to storage');
    assert.equal(patch.status, 202, patch.body.toString());
    const all = Buffer.concat([prefix, first, second]);
    await reg.r().put(pathOf(withQuery(String(patch.headers.location), 'digest', digestOf(all)))).set('Content-Length', '0').expect(201);
    const blob = await getRaw(reg.r(), `/v2/${name}/blobs/${digestOf(all)}`).expect(200);
    assert.ok(Buffer.compare(blob.body as Buffer, all) === 0);
    await assertStoreConsistent(dir);
  });

  it('a PATCH that waited for a commit of its session finds the session gone', async () => {
    const name = repoName();
    const [prefix, rest] = [100_000, 100_000].map((n) => randomBlob(n).data);
    const location = await sessionWith(reg.r(), name, prefix);
    const all = Buffer.concat([prefix, rest]);
    let late: Promise<Response> | undefined;
    async function* body() {
      yield rest.subarray(0, 50_000);
      for (let i = 0; (await storedSize(location)) !== prefix.length + 50_000; i++) {
        assert.ok(i < 400, 'the first half was never stored');
        await new Promise((r) => setTimeout(r, 25));
      }
      // Waits for the PUT below, which ends the session.
      late = reg.r().patch(pathOf(location)).set('Content-Type', 'application/octet-stream').send(randomBlob(10).data).then((r) => r);
      await new Promise((r) => setTimeout(r, 100));
      yield rest.subarray(50_000);
    }
    const put = await rawRequest(reg.url, { method: 'PUT', path: pathOf(withQuery(location, 'digest', digestOf(all))), headers: { 'content-type': 'application/octet-stream' }, chunks: body() });
    assert.equal(put.status, 201, put.body.toString());
    assertOciError(await late!, 404, ['BLOB_UPLOAD_UNKNOWN']);
    assert.equal((await store.list(paths.uploadDir(name, uuidOf(location))).catch(() => [])).length, 0, 'the session was made again');
    await assertStoreConsistent(dir);
  });
});
