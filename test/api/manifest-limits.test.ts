import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { EMPTY_CONFIG, MT, descriptor, manifestDescriptor, ociIndex, ociManifest, pushBlob, pushImage, pushManifest, randomBlob, repoName, type Content, type Descriptor } from './helpers';
import { assertOciError, startRegistry, testConfig } from './server';

/** validation.manifests.maxdescriptors bounds the work one manifest PUT can ask for. */
describe('manifest descriptor limit', () => {
  const errorMessage = (res: { body: { errors: Array<{ message: string }> } }) => res.body.errors[0].message;

  it('a manifest at the configured limit is accepted; one above is 400 MANIFEST_INVALID naming the limit', async () => {
    const reg = await startRegistry({ config: testConfig({ validation: { manifests: { maxdescriptors: 5 } } }) });
    try {
      const name = repoName();
      const layer = randomBlob(10);
      await pushBlob(reg.r(), name, EMPTY_CONFIG);
      await pushBlob(reg.r(), name, layer);
      const layers = (n: number) => Array.from({ length: n }, () => descriptor(layer, MT.ociLayer));
      const config = descriptor(EMPTY_CONFIG, MT.ociEmpty);

      const atLimit = ociManifest({ config, layers: layers(5) });
      assert.equal((await pushManifest(reg.r(), name, 'five', atLimit)).status, 201);
      const over = ociManifest({ config, layers: layers(6) });
      const res = await pushManifest(reg.r(), name, 'six', over);
      assertOciError(res, 400, ['MANIFEST_INVALID']);
      assert.match(errorMessage(res), /6 descriptors/);
      assert.match(errorMessage(res), /validation\.manifests\.maxdescriptors \(5\)/);
      await reg.r().head(`/v2/${name}/manifests/six`).expect(404);

      // An index counts its manifests the same way.
      const child = manifestDescriptor(atLimit);
      assert.equal((await pushManifest(reg.r(), name, 'index5', ociIndex(Array<Descriptor>(5).fill(child)))).status, 201);
      const overIndex = await pushManifest(reg.r(), name, 'index6', ociIndex(Array<Descriptor>(6).fill(child)));
      assertOciError(overIndex, 400, ['MANIFEST_INVALID']);
      assert.match(errorMessage(overIndex), /validation\.manifests\.maxdescriptors \(5\)/);
    } finally {
      await reg.close();
    }
  });

  it('the default limit is 10000: 10,001 layers of one blob are refused at once', async () => {
    const reg = await startRegistry();
    try {
      const name = repoName();
      const layer = randomBlob(10);
      await pushBlob(reg.r(), name, EMPTY_CONFIG);
      await pushBlob(reg.r(), name, layer);
      const m = ociManifest({ config: descriptor(EMPTY_CONFIG, MT.ociEmpty), layers: Array(10_001).fill(descriptor(layer, MT.ociLayer)) });
      const res = await pushManifest(reg.r(), name, 'huge', m);
      assertOciError(res, 400, ['MANIFEST_INVALID']);
      assert.match(errorMessage(res), /validation\.manifests\.maxdescriptors \(10000\)/);
    } finally {
      await reg.close();
    }
  });

  it('references are checked in bounded batches that yield to the event loop, not all at once', async () => {
    let inFlight = 0;
    let peak = 0;
    let calls = 0;
    // Which turn of the event loop each storage call started in: checks that yield spread over many.
    let turn = 0;
    const turns = new Set<number>();
    let ticking = true;
    const tick = () => {
      turn += 1;
      if (ticking) setImmediate(tick);
    };
    const memory = createMemoryDriver();
    // Counts the storage calls running at the same time.
    const driver = new Proxy(memory, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || prop === 'walk') return typeof value === 'function' ? (value.bind(target) as unknown) : value;
        return (...args: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (!(result instanceof Promise)) return result;
          calls += 1;
          turns.add(turn);
          inFlight += 1;
          peak = Math.max(peak, inFlight);
          return result.finally(() => (inFlight -= 1));
        };
      },
    });
    const reg = await startRegistry({ driver });
    try {
      const name = repoName();
      const layers: Content[] = Array.from({ length: 400 }, () => randomBlob(16));
      for (let i = 0; i < layers.length; i += 50) await Promise.all(layers.slice(i, i + 50).map((l) => pushBlob(reg.r(), name, l)));
      await pushImage(reg.r(), name, 'warm');
      const m = ociManifest({ config: descriptor(EMPTY_CONFIG, MT.ociEmpty), layers: layers.map((l) => descriptor(l, MT.ociLayer)) });
      await pushBlob(reg.r(), name, EMPTY_CONFIG);
      peak = 0;
      calls = 0;
      turns.clear();
      setImmediate(tick);
      assert.equal((await pushManifest(reg.r(), name, 'wide', m)).status, 201);
      ticking = false;
      assert.ok(calls >= 400, `each of the 400 layers was checked in storage (${calls} calls)`);
      assert.ok(peak <= 200, `at most a batch of checks at a time, not all ${calls}: peak ${peak}`);
      // Even on a store that answers without I/O (memory), the checks let the event loop run between batches.
      assert.ok(turns.size >= 400 / 64, `the checks yielded to the event loop: ${turns.size} turns`);
    } finally {
      ticking = false;
      await reg.close();
    }
  });
});
