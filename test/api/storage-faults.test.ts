import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { MT, pushImage, randomBlob, repoName, throwingDriver } from './helpers';
import { assertOciError, startRegistry, testConfig, type TestRegistry } from './server';

// Real kernel faults (a full tmpfs, a read-only remount, a low open-file limit) are in test/faults/;
// these are the faults no mount can make on demand, injected as the errors fs calls throw.
describe('storage faults no tmpfs can make', () => {
  let reg: TestRegistry;
  let control: ReturnType<typeof throwingDriver>;
  let name: string;
  let image: Awaited<ReturnType<typeof pushImage>>;

  before(async () => {
    control = throwingDriver(createMemoryDriver());
    reg = await startRegistry({ driver: control.driver, deps: { storageProbeIntervalMs: 100 } });
    name = repoName();
    image = await pushImage(reg.r(), name, 'latest');
  });
  after(async () => {
    control.setFailing('off');
    await reg.close();
  });

  const cases: Array<[string, number, RegExp, boolean]> = [
    ['EDQUOT', 507, /^storage is full: disk quota exceeded$/, false],
    ['EIO', 503, /^storage failed: input\/output error$/, true],
    ['ENFILE', 503, /^storage is busy: too many open files in the system$/, true],
  ];
  for (const [errno, status, message, retry] of cases) {
    it(`${errno} answers ${status} UNAVAILABLE naming the cause, never the path, and readiness follows`, async () => {
      control.setFailing({ errno });
      try {
        const blob = randomBlob(100);
        for (const res of [
          await reg.r().post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`).send(blob.data),
          await reg.r().get(`/v2/${name}/manifests/latest`).set('Accept', MT.ociManifest),
        ]) {
          assertOciError(res, status, ['UNAVAILABLE']);
          const error = (res.body as { errors: { message: string; detail: unknown }[] }).errors[0];
          assert.match(error.message, message);
          assert.deepEqual(error.detail, { cause: errno });
          assert.ok(!res.text.includes('/srv/berth'), `the body leaks the path: ${res.text}`);
          if (retry) assert.match(String(res.headers['retry-after']), /^\d+$/);
          else assert.equal(res.headers['retry-after'], undefined);
        }
        const unready = await reg.r().get('/readyz');
        assert.equal(unready.status, 503);
        assert.match(String((unready.body as { error: string }).error), new RegExp(`\\(${errno}: `));
      } finally {
        control.setFailing('off');
      }
      const deadline = Date.now() + 5000;
      while ((await reg.r().get('/readyz')).status !== 200) {
        assert.ok(Date.now() < deadline, 'readiness did not come back once storage recovered');
        await new Promise((r) => setTimeout(r, 50));
      }
    });
  }

  it('a read-only registry answers writes 405 UNSUPPORTED with the methods it still takes', async () => {
    const ro = await startRegistry({ config: testConfig({ storage: { maintenance: { readonly: { enabled: true } } } }) });
    try {
      const post = await ro.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0');
      assertOciError(post, 405, ['UNSUPPORTED']);
      const put = await ro.r().put(`/v2/${name}/manifests/latest`).set('Content-Type', MT.ociManifest).send('{}');
      assertOciError(put, 405, ['UNSUPPORTED']);
      assert.equal(put.headers.allow, 'GET, HEAD');
      assert.equal((await ro.r().delete(`/v2/${name}/blobs/${image.layer.digest}`)).headers.allow, 'GET, HEAD');
    } finally {
      await ro.close();
    }
  });
});
