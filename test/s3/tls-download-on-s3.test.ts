import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import request from 'supertest';
import { createS3Driver } from '../../storage-drivers/s3';
import { startTcpRelay, type TcpRelay } from '../../storage-drivers/s3/test-support';
import { getRaw, pushBlob, randomBlob, repoName } from '../api/helpers';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { createCa, issue } from '../helpers/test-ca';
import { startBerthOnS3, type BerthOnS3 } from './berth-on-s3';

const skip = rgwSkipReason();
const MiB = 1024 * 1024;

/**
 * Berth on an https S3 endpoint (a TLS relay in front of RGW, its CA trusted through
 * NODE_EXTRA_CA_CERTS): blob GETs read the object over TLS on the driver's own connections
 * (presigned, so the relay sees X-Amz-Signature in the query), byte for byte.
 */
describe('S3 downloads over https', { skip, timeout: 120_000 }, () => {
  let rgw: Rgw;
  let relay: TcpRelay;
  let reg: BerthOnS3;
  let dir: string;

  before(async () => {
    rgw = await acquireRgw();
    const ca = await createCa('berth-test-s3-ca');
    const leaf = await issue(ca, 'rgw-relay');
    dir = await mkdtemp(path.join(tmpdir(), 'berth-s3-tls-'));
    await writeFile(path.join(dir, 'ca.pem'), ca.certPem);
    relay = await startTcpRelay(rgw.endpoint, { tls: { key: leaf.keyPem, cert: leaf.certPem } });
    // Insight on, as deployed: the analysis of a pushed blob reads it through the relay while the
    // client pulls it, which is when TLS records came with a response head (tls-records.test.ts).
    reg = await startBerthOnS3(rgw, { redirect: false, endpoint: relay.url, env: { NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') } });
  });
  after(async () => {
    await reg?.stop();
    await relay?.close();
    await releaseRgw();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * Resolves once the background analysis of the blob `hex` has written its record and left the
   * queue: its reads of the blob are then all in the relay's lines.
   */
  async function analysed(hex: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const keys = await reg.keys('berth/insight/');
      const pending = keys.some((k) => k.includes(hex) && (k.startsWith('berth/insight/queue/') || k.startsWith('berth/insight/claims/')));
      if (!pending && keys.some((k) => k.endsWith(`/${hex}/record`))) return;
      if (Date.now() > deadline) throw new Error(`the analysis of ${hex} did not finish; insight keys: ${keys.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('a blob GET reads the object over TLS on its own connection, whole and ranged', async () => {
    const name = repoName('tls');
    const blob = randomBlob(20 * MiB + 3);
    const hex = blob.digest.slice('sha256:'.length);
    const before = relay.requestLines.length;
    // The analysis of the pushed blob reads it while the client does.
    await pushBlob(request.agent(reg.url), name, blob);
    const got = await getRaw(request.agent(reg.url), `/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.ok(Buffer.compare(got.body as Buffer, blob.data) === 0, 'the whole blob');
    const part = await getRaw(request.agent(reg.url), `/v2/${name}/blobs/${blob.digest}`).set('Range', 'bytes=1000-3000999').expect(206);
    assert.ok(Buffer.compare(part.body as Buffer, blob.data.subarray(1000, 3001000)) === 0, 'the range');
    await analysed(hex);
    const gets = relay.requestLines.slice(before).filter((l) => l.startsWith('GET ') && l.includes(`/${hex}/data?`));
    // The client's two and the analysis's one (a layer is read once, whatever it turns out to be).
    assert.equal(gets.length, 3, `object GETs: ${gets.join(', ')}`);
    for (const line of gets) assert.match(line, /X-Amz-Signature=/);
  });

  it('an endpoint certificate from a CA this process does not trust fails the read on either path', async () => {
    // This test process was not given the CA (Berth was): its driver must refuse the relay.
    await reg.s3.send(new PutObjectCommand({ Bucket: reg.bucket, Key: 'untrusted/data', Body: 'secret' }));
    const driver = createS3Driver({ bucket: reg.bucket, regionendpoint: relay.url, forcepathstyle: true, accesskey: rgw.accessKey, secretkey: rgw.secretKey, region: rgw.region });
    const lines = relay.requestLines.length;
    await assert.rejects(driver.reader('/untrusted/data'), /certificate|self.signed|issuer/i);
    // Berth's own requests (its analyser polls the queue) may go through the relay meanwhile.
    const ours = relay.requestLines.slice(lines).filter((l) => l.includes('/untrusted/'));
    assert.deepEqual(ours, [], 'no request went over an unverified connection');
  });
});
