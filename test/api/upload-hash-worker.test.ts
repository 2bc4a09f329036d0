import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { createMemoryDriver } from '../../storage-drivers';
import { Sha256Worker, spawnSha256Thread } from '../../src/oci/remote-sha256';
import { getRaw, randomBlob, recordingDriver, repoName, type Content } from './helpers';
import { pathOf, rawRequest, startRegistry, testConfig, withQuery, type TestRegistry } from './server';

/**
 * With storage.uploads.hashstate, the sha256 runs in a worker thread. Its death must cost an
 * upload no more than a missing state does (the commit reads the data back), never an
 * acknowledged byte or a hang, and the next upload gets a new thread.
 */
describe('the hashing thread dies', () => {
  const regs: TestRegistry[] = [];
  after(async () => Promise.all(regs.map((r) => r.close())));

  /** A registry whose hashing threads come from `spawn`; `threads` lists them as they start. */
  async function registry(spawn: () => Worker) {
    const threads: Worker[] = [];
    const rec = recordingDriver(createMemoryDriver());
    const hashing = new Sha256Worker(() => {
      const w = spawn();
      threads.push(w);
      return w;
    });
    const reg = await startRegistry({ driver: rec.driver, config: testConfig({ storage: { uploads: { hashstate: 'on', hashstateminsize: 0 } } }), deps: { sha256Worker: hashing } });
    regs.push(reg);
    return { reg, threads, reads: rec.reads, close: () => hashing.close() };
  }

  const dataReads = (reads: string[]) => reads.filter((p) => /\/_uploads\/[^/]+\/data$/.test(p)).length;

  async function storedSize(reg: TestRegistry, location: string): Promise<number> {
    return Number(String((await reg.r().get(pathOf(location)).expect(204)).headers.range).split('-')[1]) + 1;
  }

  async function post(reg: TestRegistry, name: string): Promise<string> {
    return (await reg.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202)).headers.location;
  }

  /** One PATCH of `blob` in two halves, calling `between` once the first is stored; then the PUT. */
  async function push(reg: TestRegistry, name: string, blob: Content, between: () => Promise<unknown> = async () => undefined) {
    const location = await post(reg, name);
    const half = blob.size / 2;
    async function* body() {
      yield blob.data.subarray(0, half);
      while ((await storedSize(reg, location)) < half) await new Promise((r) => setTimeout(r, 20));
      await between();
      yield blob.data.subarray(half);
    }
    const patch = await rawRequest(reg.url, { method: 'PATCH', path: pathOf(location), headers: { 'content-type': 'application/octet-stream' }, chunks: body() });
    assert.equal(patch.status, 202, patch.body.toString());
    assert.equal(await storedSize(reg, patch.headers.location!), blob.size);
    const put = await reg.r().put(pathOf(withQuery(patch.headers.location!, 'digest', blob.digest))).set('Content-Length', '0');
    assert.equal(put.status, 201, put.text);
    const got = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.ok(Buffer.compare(got.body as Buffer, blob.data) === 0);
  }

  it('killed mid-PATCH: the PATCH keeps every byte, the commit reads them back, and the next upload has a new thread', async () => {
    const { reg, threads, reads, close } = await registry(spawnSha256Thread);
    const name = repoName();
    await push(reg, name, randomBlob(4 * 1024 * 1024), () => threads[0].terminate());
    assert.equal(dataReads(reads), 1);
    reads.length = 0;
    await push(reg, name, randomBlob(2 * 1024 * 1024));
    assert.equal(threads.length, 2);
    assert.equal(dataReads(reads), 0, 'the new thread hashed the second upload');
    await close();
  });

  it('a thread that throws: the upload commits by reading its data back, and the next one has a new thread', async () => {
    const throwing = () => new Worker("require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom'); });", { eval: true });
    let spawned = 0;
    const { reg, threads, reads, close } = await registry(() => (spawned++ === 0 ? throwing() : spawnSha256Thread()));
    const name = repoName();
    await push(reg, name, randomBlob(1024 * 1024));
    assert.equal(dataReads(reads), 1);
    reads.length = 0;
    await push(reg, name, randomBlob(1024 * 1024));
    assert.ok(threads.length >= 2);
    assert.equal(dataReads(reads), 0, 'a working thread hashed the second upload');
    await close();
  });

  it("a dead thread's later exit does not fail the hashes of the thread that replaced it", async () => {
    const { reg, threads, reads, close } = await registry(spawnSha256Thread);
    const name = repoName();
    await push(reg, name, randomBlob(1024 * 1024));
    // Its error reported first (the thread is then replaced), its exit only later, mid-upload.
    threads[0].emit('error', new Error('boom'));
    reads.length = 0;
    await push(reg, name, randomBlob(2 * 1024 * 1024), async () => {
      assert.equal(threads.length, 2);
      await threads[0].terminate();
    });
    assert.equal(dataReads(reads), 0);
    await close();
  });
});
