import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { createMetrics } from '../../src/metrics/metrics';
import { pushBlob, randomBlob } from './helpers';
import { startRegistry, testConfig } from './server';

describe('per-request listeners', () => {
  test('a blob GET with every observer on (access log, metrics, insight) warns of no listener leak', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const reg = await startRegistry({ config: testConfig(), deps: { metrics: createMetrics({ defaultMetrics: false }), logger: pino({ level: 'silent' }) } });
    try {
      const blob = randomBlob(256 * 1024);
      await pushBlob(reg.r(), 'listeners/app', blob);
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${reg.url}/v2/listeners/app/blobs/${blob.digest}`);
        assert.equal(Buffer.from(await res.arrayBuffer()).length, blob.size);
      }
      await new Promise((r) => setImmediate(r));
    } finally {
      await reg.close();
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
      [],
    );
  });
});
