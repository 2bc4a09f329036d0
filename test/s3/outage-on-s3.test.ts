import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { getRaw, pushBlob, pushImage, randomBlob, repoName, type Image } from '../api/helpers';
import { assertOciError } from '../api/server';
import { waitForReadiness } from '../faults/helpers';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { startBerthOnS3, type BerthOnS3 } from './berth-on-s3';

const skip = rgwSkipReason();
const MiB = 1024 * 1024;
/** What the test configures as storage.s3.requesttimeout. */
const REQUEST_TIMEOUT_MS = 2_000;

/**
 * Berth on a real RGW whose radosgw is killed or frozen (SIGSTOP) under it: every /v2 request must
 * answer 503 UNAVAILABLE with Retry-After within a bounded time (never 500, never a hang), and
 * everything must work again once radosgw is back.
 */
describe('S3 outages (RGW stopped or frozen)', { skip, timeout: 300_000 }, () => {
  let rgw: Rgw;
  let reg: BerthOnS3;
  let image: Image;
  let big: ReturnType<typeof randomBlob>;
  const name = repoName('outage');
  const r = () => request.agent(reg.url);

  before(async () => {
    rgw = await acquireRgw();
    reg = await startBerthOnS3(rgw, {
      redirect: false,
      env: {
        REGISTRY_STORAGE_S3_REQUESTTIMEOUT: `${REQUEST_TIMEOUT_MS}ms`,
        REGISTRY_STORAGE_S3_CONNECTTIMEOUT: '1s',
      },
    });
    image = await pushImage(r(), name, 'v1');
    big = randomBlob(40 * MiB);
    await pushBlob(r(), name, big);
  });
  after(async () => {
    rgw?.gateway.thaw();
    await reg?.stop();
    await releaseRgw();
  });

  /** Runs `send` and checks it answered 503 UNAVAILABLE, naming the storage, with Retry-After, within `withinMs`. */
  async function assertUnavailable(what: string, send: () => Promise<request.Response>, withinMs: number): Promise<void> {
    const started = Date.now();
    const res = await send();
    const ms = Date.now() - started;
    assert.equal(res.status, 503, `${what}: ${res.text?.slice(0, 300)}`);
    assert.match(String(res.headers['retry-after']), /^\d+$/, `${what}: Retry-After`);
    if (!what.includes('HEAD')) {
      assertOciError(res, 503, ['UNAVAILABLE']);
      const body = JSON.parse(res.text) as { errors: { message: string }[] };
      assert.match(body.errors[0].message, /^storage is unavailable: /, what);
    }
    assert.ok(ms <= withinMs, `${what} answered after ${ms} ms, more than ${withinMs}`);
  }

  async function assertServes(): Promise<void> {
    await waitForReadiness(reg.url, 200, 30_000);
    const got = await getRaw(r(), `/v2/${name}/manifests/v1`).expect(200);
    assert.ok(Buffer.compare(got.body as Buffer, image.manifest.data) === 0);
    await getRaw(r(), `/v2/${name}/blobs/${image.layer.digest}`).expect(200);
    await pushImage(r(), name, 'after');
  }

  function outageRequests(): [string, () => Promise<request.Response>][] {
    return [
      ['manifest GET', () => r().get(`/v2/${name}/manifests/v1`)],
      ['manifest HEAD', () => r().head(`/v2/${name}/manifests/v1`)],
      ['blob GET', () => r().get(`/v2/${name}/blobs/${image.layer.digest}`)],
      ['upload POST', () => r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0')],
      ['manifest PUT', () => r().put(`/v2/${name}/manifests/v2`).set('Content-Type', image.manifest.mediaType).send(image.manifest.data.toString())],
      ['tags list', () => r().get(`/v2/${name}/tags/list`)],
    ];
  }

  it('radosgw killed: every request answers 503 with Retry-After at once; after a restart everything works', async () => {
    await rgw.gateway.kill();
    try {
      // Connection refused is immediate; the SDK's retries with back-off still fit well within this.
      for (const [what, send] of outageRequests()) await assertUnavailable(what, send, 10_000);
      const ready = await waitForReadiness(reg.url, 503, 10_000);
      assert.match(String(ready.error), /storage is unavailable/);
      assert.match(reg.berth.logs(), /storage fault: storage is unavailable \(ECONNREFUSED/);
    } finally {
      await rgw.gateway.restart();
    }
    await assertServes();
  });

  it('radosgw frozen: requests answer 503 within the request timeout, not after the freeze', async () => {
    rgw.gateway.freeze();
    try {
      for (const [what, send] of outageRequests()) await assertUnavailable(what, send, REQUEST_TIMEOUT_MS + 3_000);
      assert.match(reg.berth.logs(), /storage fault: storage is unavailable \((ETIMEDOUT|TimeoutError)/);
    } finally {
      rgw.gateway.thaw();
    }
    await assertServes();
  });

  it('radosgw frozen while a blob streams: the download is cut within the timeout instead of hanging', async () => {
    const url = new URL(`/v2/${name}/blobs/${big.digest}`, reg.url);
    const outcome = await new Promise<{ received: number; ended: boolean; ms: number }>((resolve, reject) => {
      let received = 0;
      let frozenAt = 0;
      const req = http.get(url, { agent: false }, (res) => {
        assert.equal(res.statusCode, 200);
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (frozenAt === 0) {
            rgw.gateway.freeze();
            frozenAt = Date.now();
          }
          // Reads slowly, so radosgw cannot have sent the whole blob before it froze.
          res.pause();
          setTimeout(() => res.resume(), 20);
        });
        res.on('end', () => resolve({ received, ended: true, ms: Date.now() - frozenAt }));
        res.on('error', () => resolve({ received, ended: false, ms: Date.now() - frozenAt }));
        res.on('aborted', () => resolve({ received, ended: false, ms: Date.now() - frozenAt }));
      });
      req.on('error', reject);
      req.setTimeout(60_000, () => req.destroy(new Error('the download hung for 60 s')));
    }).finally(() => rgw.gateway.thaw());
    assert.equal(outcome.ended, false, `the whole blob arrived (${outcome.received} bytes) before radosgw froze: test proves nothing`);
    assert.ok(outcome.received < big.size);
    assert.ok(outcome.ms <= REQUEST_TIMEOUT_MS + 5_000, `the download was cut only after ${outcome.ms} ms`);
    await assertServes();
  });

  it('a client that stops reading a download for longer than the timeout still gets every byte', async () => {
    const url = new URL(`/v2/${name}/blobs/${big.digest}`, reg.url);
    const received = await new Promise<number>((resolve, reject) => {
      let count = 0;
      let paused = false;
      const req = http.get(url, { agent: false }, (res) => {
        res.on('data', (chunk: Buffer) => {
          count += chunk.length;
          if (paused) return;
          paused = true;
          res.pause();
          setTimeout(() => res.resume(), 2 * REQUEST_TIMEOUT_MS);
        });
        res.on('end', () => resolve(count));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error(`the download was cut after ${count} bytes`)));
      });
      req.on('error', reject);
    });
    assert.equal(received, big.size);
  });
});
