import assert from 'node:assert/strict';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { after, before, describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { createMetrics } from '../../src/metrics/metrics';
import { faultCount, waitForReadiness } from '../faults/helpers';
import { MT, pushImage, randomBlob, repoName, throwingDriver } from './helpers';
import { assertOciError, startRegistry, type TestRegistry } from './server';

/** What the AWS SDK attaches to every error after its retries. */
const METADATA = { attempts: 3, totalRetryDelay: 80 };

function networkError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 10.0.0.1:7480`), { code, $metadata: { ...METADATA } });
}

function serviceError(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'server', message: `${name} at rgw.internal`, $metadata: { ...METADATA, httpStatusCode: status } });
}

function sdkTimeout(): Error {
  const message = '@smithy/node-http-handler - the request socket timed out after 30000 ms of inactivity';
  return Object.assign(new Error(message), { name: 'TimeoutError', $metadata: { ...METADATA } });
}

// The errors the S3 client raises when its service is down, frozen or overloaded, injected through
// a driver: test/s3/outage-on-s3.test.ts makes the same happen to a real RGW.
describe('object storage outages answer 503 UNAVAILABLE', () => {
  let reg: TestRegistry;
  let control: ReturnType<typeof throwingDriver>;
  const metrics = createMetrics({ defaultMetrics: false });
  const name = repoName();

  before(async () => {
    control = throwingDriver(createMemoryDriver());
    reg = await startRegistry({ driver: control.driver, deps: { metrics, storageProbeIntervalMs: 100 } });
    await pushImage(reg.r(), name, 'latest');
  });
  after(async () => {
    control.setFailing('off');
    await reg.close();
  });

  const cases: Array<[string, () => unknown, string, RegExp]> = [
    ['connection refused', () => networkError('ECONNREFUSED'), 'ECONNREFUSED', /^storage is unavailable: connection refused$/],
    ['an unknown host', () => networkError('ENOTFOUND'), 'ENOTFOUND', /^storage is unavailable: host name not found$/],
    ['a reset connection', () => networkError('ECONNRESET'), 'ECONNRESET', /^storage is unavailable: connection reset$/],
    ['a socket timeout', sdkTimeout, 'ETIMEDOUT', /^storage is unavailable: no answer in time$/],
    ['ServiceUnavailable', () => serviceError('ServiceUnavailable', 503), 'ServiceUnavailable', /^storage is unavailable: the service is unavailable$/],
    ['SlowDown', () => serviceError('SlowDown', 503), 'SlowDown', /^storage is unavailable: the service asks to slow down$/],
    ['InternalError', () => serviceError('InternalError', 500), 'InternalError', /^storage is unavailable: the service failed$/],
    ['a 502 without a body (HEAD)', () => serviceError('Unknown', 502), 'HTTP502', /^storage is unavailable: the service answered 502$/],
  ];
  for (const [what, error, code, message] of cases) {
    it(`${what}: 503 with Retry-After naming the cause, counted, and readiness follows`, async () => {
      const before = await faultCount(metrics, code);
      control.setFailing({ error });
      try {
        const blob = randomBlob(100);
        for (const res of [
          await reg.r().post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`).send(blob.data),
          await reg.r().get(`/v2/${name}/manifests/latest`).set('Accept', MT.ociManifest),
        ]) {
          assertOciError(res, 503, ['UNAVAILABLE']);
          const e = (res.body as { errors: { message: string; detail: unknown }[] }).errors[0];
          assert.match(e.message, message);
          assert.deepEqual(e.detail, { cause: code });
          assert.ok(!res.text.includes('10.0.0.1') && !res.text.includes('rgw.internal'), `the body leaks the backend: ${res.text}`);
          assert.match(String(res.headers['retry-after']), /^\d+$/);
        }
        assert.equal(await faultCount(metrics, code), before + 2);
        const unready = await waitForReadiness(reg.url, 503, 2_000);
        assert.match(String(unready.error), new RegExp(`^storage is unavailable \\(${code}: `));
      } finally {
        control.setFailing('off');
      }
      await waitForReadiness(reg.url, 200, 5_000);
    });
  }

  async function allFaults(): Promise<number> {
    const text = await metrics.registry.metrics();
    return text
      .split('\n')
      .filter((l) => l.startsWith('berth_storage_faults_total{'))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  }

  const notOutages: Array<[string, () => unknown]> = [
    // A client's own dropped connection carries no $metadata: it says nothing about the storage.
    ['a reset connection that no S3 client reported', () => Object.assign(new Error('aborted'), { code: 'ECONNRESET' })],
    ['a 501 NotImplemented', () => serviceError('NotImplemented', 501)],
    ['a 403 AccessDenied', () => new S3ServiceException({ name: 'AccessDenied', $fault: 'client', message: 'denied', $metadata: { httpStatusCode: 403 } })],
  ];
  for (const [what, error] of notOutages) {
    it(`${what} stays a 500 and counts as no storage fault`, async () => {
      const before = await allFaults();
      control.setFailing({ error });
      try {
        assertOciError(await reg.r().get(`/v2/${name}/manifests/latest`), 500, ['UNKNOWN']);
      } finally {
        control.setFailing('off');
      }
      assert.equal(await allFaults(), before);
    });
  }
});
