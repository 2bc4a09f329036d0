import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import { paths } from '../../src/oci/paths';
import { content, getRaw, patchChunk, randomBlob, recordingDriver, repoName, type Content } from './helpers';
import { assertOciError, pathOf, startRegistry, testConfig, withQuery, type TestRegistry } from './server';

/**
 * docs/architecture.md, "Uploads": with storage.uploads.hashstate, the running sha256 is saved beside
 * the upload after each PATCH, so that another replica (or this one after a restart) commits
 * without reading the data back; a state that is missing or not for exactly the stored bytes only
 * costs that read.
 */
describe('resumable upload hashes on a shared filesystem store', () => {
  let dir: string;
  const replicas: { reg: TestRegistry; reads: string[] }[] = [];
  const hashstate = testConfig({ storage: { uploads: { hashstate: 'on', hashstateminsize: 0 } } });

  async function replica(config = hashstate): Promise<{ reg: TestRegistry; reads: string[] }> {
    const rec = recordingDriver(createFilesystemDriver({ rootDirectory: dir }));
    const r = { reg: await startRegistry({ driver: rec.driver, config }), reads: rec.reads };
    replicas.push(r);
    return r;
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-hash-state-'));
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.reg.close()));
    await rm(dir, { recursive: true, force: true });
  });

  const patch = (reg: TestRegistry, location: string, from: number, data: Buffer) => patchChunk(reg.r(), location, from, data).expect(202);

  /** POST then one PATCH per part on `on`; resolves with the last Location. */
  async function upload(on: TestRegistry, name: string, parts: Buffer[], query = ''): Promise<string> {
    let location = (await on.r().post(`/v2/${name}/blobs/uploads/${query}`).set('Content-Length', '0').expect(202)).headers.location;
    let offset = 0;
    for (const part of parts) {
      location = (await patch(on, location, offset, part)).headers.location;
      offset += part.length;
    }
    return location;
  }

  function put(reg: TestRegistry, location: string, digest: string) {
    return reg.r().put(pathOf(withQuery(location, 'digest', digest))).set('Content-Length', '0');
  }

  function uuidOf(location: string): string {
    return /\/blobs\/uploads\/([^/?]+)/.exec(location)![1];
  }

  function stateFile(name: string, location: string): string {
    return path.join(dir, paths.uploadHashState(name, uuidOf(location)));
  }

  const dataReads = (reads: string[]) => reads.filter((p) => /\/_uploads\/[^/]+\/data$/.test(p));

  async function assertStored(reg: TestRegistry, name: string, blob: Content): Promise<void> {
    const res = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.ok(Buffer.compare(res.body as Buffer, blob.data) === 0);
  }

  it('PATCHes on A, PUT on B: B commits without reading the upload back', async () => {
    const [a, b] = [await replica(), await replica()];
    const name = repoName();
    const blob = randomBlob(3_000_000);
    const location = await upload(a.reg, name, [blob.data.subarray(0, 1_000_000), blob.data.subarray(1_000_000)]);
    b.reads.length = 0;
    await put(b.reg, location, blob.digest).expect(201);
    assert.deepEqual(dataReads(b.reads), []);
    await assertStored(b.reg, name, blob);
  });

  it('PATCHes alternating between A and B, PUT on A: nobody reads the upload back', async () => {
    const [a, b] = [await replica(), await replica()];
    const name = repoName();
    const blob = randomBlob(1_500_000);
    let location = (await a.reg.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202)).headers.location;
    for (const [i, reg] of [a.reg, b.reg, a.reg].entries())
      location = (await patch(reg, location, i * 500_000, blob.data.subarray(i * 500_000, (i + 1) * 500_000))).headers.location;
    await put(a.reg, location, blob.digest).expect(201);
    assert.deepEqual(dataReads([...a.reads, ...b.reads]), []);
    await assertStored(b.reg, name, blob);
  });

  it('a restart between PATCH and PUT: the new process continues the saved hash', async () => {
    const a = await replica();
    const name = repoName();
    const blob = randomBlob(700_000);
    const location = await upload(a.reg, name, [blob.data]);
    await a.reg.close();
    replicas.splice(replicas.indexOf(a), 1);
    const restarted = await replica();
    await put(restarted.reg, location, blob.digest).expect(201);
    assert.deepEqual(dataReads(restarted.reads), []);
    await assertStored(restarted.reg, name, blob);
  });

  it('a stale state (an earlier offset) is not used: the commit reads the data back and stores the right blob', async () => {
    const [a, b] = [await replica(), await replica()];
    const name = repoName();
    const blob = randomBlob(800_000);
    const first = await upload(a.reg, name, [blob.data.subarray(0, 400_000)]);
    const stale = await readFile(stateFile(name, first));
    const location = (await patch(a.reg, first, 400_000, blob.data.subarray(400_000))).headers.location;
    await writeFile(stateFile(name, location), stale);
    b.reads.length = 0;
    await put(b.reg, location, blob.digest).expect(201);
    assert.equal(dataReads(b.reads).length, 1);
    await assertStored(b.reg, name, blob);
  });

  it("another session's state, for as many bytes, is not used: its digest is refused", async () => {
    const [a, b] = [await replica(), await replica()];
    const name = repoName();
    const mine = randomBlob(300_000);
    const theirs = randomBlob(300_000);
    const location = await upload(a.reg, name, [mine.data]);
    const other = await upload(a.reg, name, [theirs.data]);
    await writeFile(stateFile(name, location), await readFile(stateFile(name, other)));
    assertOciError(await put(b.reg, location, theirs.digest), 400, ['DIGEST_INVALID']);
    const retry = await upload(a.reg, name, [mine.data]);
    await writeFile(stateFile(name, retry), await readFile(stateFile(name, other)));
    await put(b.reg, retry, mine.digest).expect(201);
    await assertStored(b.reg, name, mine);
  });

  it('an altered state fails its signature: the commit reads the data back, and a wrong digest is refused', async () => {
    const [a, b] = [await replica(), await replica()];
    const name = repoName();
    const blob = randomBlob(500_000);
    const decoy = randomBlob(500_000);
    for (const digest of [decoy.digest, blob.digest]) {
      const location = await upload(a.reg, name, [blob.data]);
      // The decoy's state, for as many bytes, under this session's signature.
      const [body, mac] = (await readFile(stateFile(name, location), 'utf8')).split('.');
      const [decoyBody] = (await readFile(stateFile(name, await upload(a.reg, name, [decoy.data])), 'utf8')).split('.');
      const fields = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown[];
      // The state is the last field.
      fields[fields.length - 1] = (JSON.parse(Buffer.from(decoyBody, 'base64url').toString('utf8')) as unknown[]).at(-1);
      await writeFile(stateFile(name, location), `${Buffer.from(JSON.stringify(fields)).toString('base64url')}.${mac}`);
      b.reads.length = 0;
      const res = await put(b.reg, location, digest);
      if (digest === blob.digest) assert.equal(res.status, 201, res.text);
      else assertOciError(res, 400, ['DIGEST_INVALID']);
      assert.equal(dataReads(b.reads).length, 1);
    }
    await assertStored(b.reg, name, blob);
  });

  it("data replaced by as many other bytes after its state was saved: the stored bytes' digest is not refused", async () => {
    const [a, b] = [await replica(), await replica()];
    const name = repoName();
    const [sent, stored] = [randomBlob(400_000), randomBlob(400_000)];
    // As two PATCHes racing on S3 can leave it: one request's bytes, the other's (signed, same-size) state.
    const location = await upload(a.reg, name, [sent.data]);
    await writeFile(path.join(dir, paths.uploadData(name, uuidOf(location))), stored.data);
    b.reads.length = 0;
    const res = await put(b.reg, location, stored.digest);
    assert.equal(res.status, 201, res.text);
    assert.equal(dataReads(b.reads).length, 1);
    await assertStored(b.reg, name, stored);
  });

  it('a crash that kept only part of the data: the state for the bytes lost is never used for others', async () => {
    const a = await replica();
    const name = repoName();
    const sent = randomBlob(600_000);
    const resent = content(Buffer.concat([sent.data.subarray(0, 200_000), randomBlob(400_000).data]));
    for (const digest of [sent.digest, resent.digest]) {
      const location = await upload(a.reg, name, [sent.data]);
      // The state survived the crash; the data's last 400 kB did not.
      await truncate(path.join(dir, paths.uploadData(name, uuidOf(location))), 200_000);
      const b = await replica();
      const resumed = (await patch(b.reg, location, 200_000, resent.data.subarray(200_000))).headers.location;
      const res = await put(b.reg, resumed, digest);
      if (digest === resent.digest) assert.equal(res.status, 201, res.text);
      else assertOciError(res, 400, ['DIGEST_INVALID']);
    }
    await assertStored(a.reg, name, resent);
    await getRaw(a.reg.r(), `/v2/${name}/blobs/${sent.digest}`).expect(404);
  });

  it('a sha512 upload (digest-algorithm=sha512) saves no state and commits on B by reading the data back', async () => {
    const [a, b] = [await replica(), await replica()];
    const name = repoName();
    const blob = randomBlob(600_000, 'sha512');
    const location = await upload(a.reg, name, [blob.data], '?digest-algorithm=sha512');
    await assert.rejects(readFile(stateFile(name, location)), { code: 'ENOENT' });
    b.reads.length = 0;
    await put(b.reg, location, blob.digest).expect(201);
    assert.equal(dataReads(b.reads).length, 1);
    await assertStored(b.reg, name, blob);
  });

  it('a PATCH cut off mid-body: B continues from the bytes stored, and the commit reads them back', async () => {
    const [a, b] = [await replica(), await replica()];
    const name = repoName();
    const blob = randomBlob(48 * 1024 * 1024);
    const first = await upload(a.reg, name, [blob.data.subarray(0, 1_000_000)]);
    // 40 MiB more of a streamed PATCH (past what the hashing worker may lag behind), then the connection drops.
    await new Promise<void>((resolve) => {
      const req = http.request(`${a.reg.url}${pathOf(first)}`, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' } });
      req.on('error', () => resolve());
      req.write(blob.data.subarray(1_000_000, 41_000_000), () => setTimeout(() => req.destroy(), 200));
    });
    // A may still be writing what it received: wait until the stored size holds still.
    const storedSize = async () => Number(((await b.reg.r().get(pathOf(first)).expect(204)).headers.range).split('-')[1]) + 1;
    let [before, stored] = [-1, await storedSize()];
    while (stored !== before) {
      await new Promise((r) => setTimeout(r, 200));
      [before, stored] = [stored, await storedSize()];
    }
    assert.ok(stored > 1_000_000 && stored <= 41_000_000, `stored ${stored}`);
    const location = (await patch(b.reg, first, stored, blob.data.subarray(stored))).headers.location;
    b.reads.length = 0;
    await put(b.reg, location, blob.digest).expect(201);
    assert.equal(dataReads(b.reads).length, 1);
    await assertStored(b.reg, name, blob);
  });

  it('an upload shorter than hashstateminsize saves no state until it reaches it: a short one is read back', async () => {
    const config = testConfig({ storage: { uploads: { hashstate: 'on', hashstateminsize: 1_000_000 } } });
    const [a, b] = [await replica(config), await replica(config)];
    const name = repoName();
    const short = randomBlob(600_000);
    const location = await upload(a.reg, name, [short.data]);
    await assert.rejects(readFile(stateFile(name, location)), { code: 'ENOENT' });
    b.reads.length = 0;
    await put(b.reg, location, short.digest).expect(201);
    assert.equal(dataReads(b.reads).length, 1, 'read back');

    const long = randomBlob(1_500_000);
    const first = await upload(a.reg, name, [long.data.subarray(0, 600_000)]);
    await assert.rejects(readFile(stateFile(name, first)), { code: 'ENOENT' });
    const second = (await patch(a.reg, first, 600_000, long.data.subarray(600_000))).headers.location;
    await readFile(stateFile(name, second));
    b.reads.length = 0;
    await put(b.reg, second, long.digest).expect(201);
    assert.deepEqual(dataReads(b.reads), [], 'continued from the saved state');
    await assertStored(b.reg, name, long);
  });

  it('hashstate auto on a filesystem store saves no state: B reads the data back', async () => {
    const auto = testConfig();
    const [a, b] = [await replica(auto), await replica(auto)];
    const name = repoName();
    const blob = randomBlob(200_000);
    const location = await upload(a.reg, name, [blob.data]);
    await assert.rejects(readFile(stateFile(name, location)), { code: 'ENOENT' });
    await put(b.reg, location, blob.digest).expect(201);
    assert.equal(dataReads(b.reads).length, 1);
  });
});
