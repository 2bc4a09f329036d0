import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createS3Driver } from '../../storage-drivers/s3';
import { freshOptions } from '../../storage-drivers/s3/test-support';
import { digestOf, type ErrorList, getRaw, repoName, sendBytes } from '../api/helpers';
import { pathOf, startRegistry, testConfig, type TestRegistry, withQuery } from '../api/server';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { type ProxiedRequest, s3Operation, startCountingProxy, type CountingProxy } from './counting-proxy';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const skip = rgwSkipReason();

/** A streamed PATCH (no Content-Length) whose body the test sends piece by piece. */
function openPatch(url: string, location: string): { send(data: Buffer): void; finish(): Promise<number> } {
  const req = http.request(new URL(pathOf(location), url), { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' } });
  const answered = new Promise<number>((resolve, reject) => {
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
  });
  req.flushHeaders();
  return {
    send: (data) => void req.write(data),
    finish: async () => {
      req.end();
      return answered;
    },
  };
}

/** S3 requests on one upload session's objects, by what they do to them. */
function sessionRequests(location: string) {
  const uuid = new URL(location, 'http://x.invalid').pathname.split('/').pop();
  const on = (r: ProxiedRequest, object: string) => new URL(r.url, 'http://x.invalid').pathname.endsWith(`/_uploads/${uuid}/${object}`);
  return {
    /** A writer opening: it loads the upload object (the driver's `data#upload`) and looks for committed data. */
    writerOpen: (r: ProxiedRequest) => (s3Operation(r) === 'GetObject' && on(r, 'data%23upload')) || (s3Operation(r) === 'HeadObject' && on(r, 'data')),
    /** A request loading the saved running hash. */
    hashStateRead: (r: ProxiedRequest) => s3Operation(r) === 'GetObject' && on(r, 'berth-sha256-state'),
    /** Part `n` of the upload's data stored, by whichever writer. */
    partStored: (n: number) => (r: ProxiedRequest) =>
      s3Operation(r) === 'UploadPart' && on(r, 'data') && new URL(r.url, 'http://x.invalid').searchParams.get('partNumber') === String(n),
  };
}

/*
 * Two PATCHes continuing one session from the same offset, each with other bytes: on S3 they store
 * the same part numbers over each other. Whatever hash the commit holds (this process's own, or a
 * saved state), it must never store a blob under a digest its bytes do not have. Berth reaches RGW
 * through a proxy, whose record of answered requests orders the PATCHes: each step waits until the
 * S3 requests it relies on have been answered, however slow the machine.
 */
describe('PATCHes racing on one session (S3 on RGW)', { skip, timeout: 300_000 }, () => {
  let rgw: Rgw;
  let proxy: CountingProxy;
  before(async () => {
    rgw = await acquireRgw();
    proxy = await startCountingProxy(rgw.endpoint);
  });
  after(async () => {
    await proxy?.close();
    await releaseRgw();
  });

  async function withRegistry(hashstate: 'on' | 'off', work: (reg: TestRegistry) => Promise<void>): Promise<void> {
    const driver = createS3Driver(await freshOptions(rgw, { chunksize: PART, regionendpoint: proxy.url }));
    const config = testConfig({ storage: { redirect: { disable: true }, uploads: { hashstate, hashstateminsize: 0 } } });
    const reg = await startRegistry({ config, driver });
    try {
      await work(reg);
    } finally {
      await reg.close();
    }
  }

  /**
   * A session holding one part; then two PATCHes opened on it, A first, each once the S3 reads it
   * makes before it takes its body were answered: its writer's two, and for B with `hashstate` on
   * the saved hash (A continues this process's own). Neither has stored anything yet.
   */
  async function racing(reg: TestRegistry, name: string, hashstate: 'on' | 'off') {
    const started = await reg.r().post(`/v2/${name}/blobs/uploads/`).expect(202);
    const first = Buffer.alloc(PART, 0x30);
    const patched = await sendBytes(reg.r().patch(pathOf(started.headers.location)), first).expect(202);
    const location: string = patched.headers.location;
    const s3 = sessionRequests(location);
    let a: ReturnType<typeof openPatch> | undefined;
    let b: ReturnType<typeof openPatch> | undefined;
    await proxy.answered(s3.writerOpen, 2, () => (a = openPatch(reg.url, location)));
    const readOfB = (r: ProxiedRequest) => s3.writerOpen(r) || (hashstate === 'on' && s3.hashStateRead(r));
    await proxy.answered(readOfB, hashstate === 'on' ? 3 : 2, () => (b = openPatch(reg.url, location)));
    return { first, location, a: a!, b: b!, s3 };
  }

  /** PUTs each digest; any blob that is then stored must read back as that digest. */
  async function commitEach(reg: TestRegistry, name: string, location: string, digests: string[]): Promise<number[]> {
    const statuses: number[] = [];
    for (const digest of digests) {
      const put = await reg.r().put(pathOf(withQuery(location, 'digest', digest)));
      statuses.push(put.status);
      if (put.status !== 201) continue;
      const got = await getRaw(reg.r(), `/v2/${name}/blobs/${digest}`).expect(200);
      assert.equal(digestOf(got.body as Buffer), digest, `the blob committed as ${digest} holds other bytes`);
    }
    return statuses;
  }

  // With hashstate on, B continues the state A's predecessor saved and saves its own last: the
  // state is B's. This process keeps only A's hash (A took it first), for A's version of the content.
  it(`one PATCH's parts wholly replace the other's: the other's digest is refused (hash in this process)`, async () => {
    await withRegistry('off', async (reg) => {
        const name = repoName('race');
        const { first, location, a, b } = await racing(reg, name, 'off');
        const bytesA = Buffer.alloc(PART, 0x41);
        const bytesB = Buffer.alloc(PART, 0x42);
        a.send(bytesA);
        assert.equal(await a.finish(), 202);
        b.send(bytesB);
        assert.equal(await b.finish(), 202);
        const [put] = await commitEach(reg, name, location, [digestOf(Buffer.concat([first, bytesA]))]);
        assert.equal(put, 400, "B stored every byte after the first part: A's digest is not what is stored");
    });
  });

  for (const hashstate of ['off', 'on'] as const) {
    it(`hashstate ${hashstate}: parts of both PATCHes mixed: the commit fails with BLOB_UPLOAD_INVALID`, async () => {
      await withRegistry(hashstate, async (reg) => {
        const name = repoName('race');
        const { first, location, a, b, s3 } = await racing(reg, name, hashstate);
        const bytesA = Buffer.alloc(2 * PART, 0x41);
        const bytesB = Buffer.alloc(2 * PART, 0x42);
        // Stored: part 2 from B, part 3 from A, at the size each of them hashed.
        await proxy.answered(s3.partStored(2), 1, () => a.send(bytesA.subarray(0, PART)));
        const partOfB = (r: ProxiedRequest) => s3.partStored(2)(r) || s3.partStored(3)(r);
        await proxy.answered(partOfB, 2, () => b.send(bytesB));
        a.send(bytesA.subarray(PART));
        assert.equal(await a.finish(), 202);
        assert.equal(await b.finish(), 202);
        const digests = [digestOf(Buffer.concat([first, bytesA])), digestOf(Buffer.concat([first, bytesB]))];
        const put = await reg.r().put(pathOf(withQuery(location, 'digest', digests[0])));
        assert.equal(put.status, 400, JSON.stringify(put.body));
        const [error] = (put.body as ErrorList).errors;
        assert.equal(error.code, 'BLOB_UPLOAD_INVALID');
        assert.match(error.message, /changed by another request/);
        for (const digest of digests) await reg.r().head(`/v2/${name}/blobs/${digest}`).expect(404);
        assert.deepEqual(await commitEach(reg, name, location, [digests[1]]), [404], 'the session is gone');
      });
    });
  }
});
