import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Cleanup } from '../../bench/cleanup';
import { HttpClient } from '../../bench/http-client';
import { CONFIG_BYTES, MANIFEST_ACCEPT, manifestBytes, pushBytes, putManifest, sha256 } from '../../bench/oci';
import { startServer } from '../../bench/servers';
import type { RegistryKind } from '../../bench/types';
import { distributionSkipReason } from '../helpers/distribution';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { destroyBucket, listKeys, s3Client } from './berth-on-s3';
import { countByOperation, startCountingProxy, type CountingProxy } from './counting-proxy';

/*
 * The bench's `s3` group compares the two registries only if each really stores in its bucket, through
 * the counting proxy: a server that fell back to a directory, or did not start, would leave the group
 * with nothing to compare or with counts of nothing.
 */

const REPO_ROOT = path.resolve(__dirname, '../../..');
const skip = rgwSkipReason();

describe('bench servers on S3 (RGW)', { skip, timeout: 180_000 }, () => {
  let rgw: Rgw;
  let proxy: CountingProxy;
  let noReference: string | undefined;
  const cleanup = new Cleanup();
  const caBundle = process.env.AWS_CA_BUNDLE;

  before(async () => {
    noReference = await distributionSkipReason();
    rgw = await acquireRgw();
    proxy = await startCountingProxy(rgw.endpoint);
    // Set on machines behind an intercepting proxy; Distribution 2.8's SDK must start regardless.
    process.env.AWS_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
  });
  after(async () => {
    if (caBundle === undefined) delete process.env.AWS_CA_BUNDLE;
    else process.env.AWS_CA_BUNDLE = caBundle;
    cleanup.runNow();
    await proxy?.close();
    await releaseRgw();
  });

  for (const kind of ['berth', 'reference'] as RegistryKind[]) {
    test(`${kind} stores an image in its bucket, every S3 request through the proxy`, async (t) => {
      if (kind === 'reference' && noReference) return t.skip(noReference);
      const bucket = `bench-test-${kind}-${Date.now() % 100_000}`;
      await rgw.createBucket(bucket);
      const admin = s3Client(rgw);
      const s3 = { endpoint: proxy.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, bucket };
      const hex = sha256(CONFIG_BYTES).slice('sha256:'.length);
      try {
        const server = await startServer(kind, REPO_ROOT, cleanup, { cpuProfDir: null, shared: true, notifications: '', s3 });
        const client = new HttpClient(server.target.base, 2);
        try {
          proxy.requests.length = 0;
          const config = await pushBytes(client, 'bench/s3', CONFIG_BYTES);
          await putManifest(client, 'bench/s3', 'v1', manifestBytes(config, []));
          const got = await client.send('GET', '/v2/bench/s3/manifests/v1', { headers: { accept: MANIFEST_ACCEPT } });
          assert.equal(got.status, 200);
          assert.ok((countByOperation(proxy.requests).PutObject ?? 0) > 0, JSON.stringify(countByOperation(proxy.requests)));
        } finally {
          client.close();
          await server.stop();
        }
        const keys = await listKeys(admin, bucket);
        assert.ok(keys.includes('docker/registry/v2/repositories/bench/s3/_manifests/tags/v1/current/link'), keys.join('\n'));
        assert.ok(keys.includes(`docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`), keys.join('\n'));
      } finally {
        await destroyBucket(admin, bucket);
        admin.destroy();
      }
    });
  }
});
