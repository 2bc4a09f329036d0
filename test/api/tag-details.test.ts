import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { parseDigest } from '../../src/oci/digest';
import { paths } from '../../src/oci/paths';
import { ACCESS_CONTROL, authConfig, authFixture, pushImage as pushAuthImage, startAuthRegistry, tokenFor, type AuthFixture, type AuthRegistry } from '../auth/helpers';
import { MT, content, descriptor, manifestDescriptor, ociIndex, ociManifest, pushBlob, pushImage, pushManifest, randomBlob, repoName } from './helpers';
import { testConfig, useRegistry } from './server';

interface Detail {
  name: string;
  digest: string;
  mediaType: string | null;
  size: number | null;
  platforms: string[];
  pushedAt: string;
}

function configOf(platform: { os: string; architecture: string; variant?: string }) {
  return content(Buffer.from(JSON.stringify({ ...platform, rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') })));
}

/** The tags-with-details endpoint works without insight: it is no insight feature. */
describe('tags with details (GET /v2/<name>/_berth/tags)', () => {
  const driver: StorageDriver = createMemoryDriver();
  const registry = useRegistry({ driver, config: testConfig({ insight: { enabled: false } }) });
  const details = async (path: string) => {
    const res = await fetch(`${registry.url}${path}`);
    const body = (await res.json()) as { name: string; tags: Detail[] };
    return { res, body };
  };

  test('an image: digest, media type, size (manifest + config + layers), platform, push time', async () => {
    const r = registry.r();
    const name = repoName('details');
    const before = Date.now() - 1000;
    const image = await pushImage(r, name, 'v1');
    const { res, body } = await details(`/v2/${name}/_berth/tags`);
    assert.equal(res.status, 200);
    assert.equal(body.name, name);
    assert.equal(body.tags.length, 1);
    const [t] = body.tags;
    assert.equal(t.name, 'v1');
    assert.equal(t.digest, image.manifest.digest);
    assert.equal(t.mediaType, MT.ociManifest);
    assert.equal(t.size, image.manifest.size + image.config.size + image.layer.size);
    assert.deepEqual(t.platforms, ['linux/amd64']);
    const pushed = Date.parse(t.pushedAt);
    assert.ok(pushed >= before && pushed <= Date.now() + 1000, t.pushedAt);
  });

  test('an index: each platform, and the union of its images with shared blobs once', async () => {
    const r = registry.r();
    const name = repoName('details');
    const shared = randomBlob(4000);
    const images = [];
    for (const platform of [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]) {
      const config = configOf(platform);
      const own = randomBlob(300);
      for (const b of [config, shared, own]) await pushBlob(r, name, b);
      const m = ociManifest({ config: descriptor(config, MT.ociConfig), layers: [descriptor(shared, MT.ociLayer), descriptor(own, MT.ociLayer)] });
      assert.equal((await pushManifest(r, name, m.digest, m)).status, 201);
      images.push({ m, config, own, platform });
    }
    const index = ociIndex(images.map((i) => manifestDescriptor(i.m, { platform: i.platform })));
    assert.equal((await pushManifest(r, name, 'multi', index)).status, 201);
    const { body } = await details(`/v2/${name}/_berth/tags`);
    const [t] = body.tags;
    assert.equal(t.mediaType, MT.ociIndex);
    assert.deepEqual(t.platforms, ['linux/amd64', 'linux/arm64/v8']);
    const expected = index.size + shared.size + images.reduce((n, i) => n + i.m.size + i.config.size + i.own.size, 0);
    assert.equal(t.size, expected);
  });

  test('pages in the tags list order, with a Link to the next page as the tags list has', async () => {
    const r = registry.r();
    const name = repoName('details');
    const image = await pushImage(r, name);
    for (const tag of ['b', 'a', 'c', 'd', 'e']) assert.equal((await pushManifest(r, name, tag, image.manifest)).status, 201);
    const first = await details(`/v2/${name}/_berth/tags?n=2`);
    assert.deepEqual(first.body.tags.map((t) => t.name), ['a', 'b']);
    assert.equal(first.res.headers.get('link'), `</v2/${name}/_berth/tags?n=2&last=b>; rel="next"`);
    const second = await details(`/v2/${name}/_berth/tags?n=2&last=b`);
    assert.deepEqual(second.body.tags.map((t) => t.name), ['c', 'd']);
    const third = await details(`/v2/${name}/_berth/tags?n=2&last=d`);
    assert.deepEqual(third.body.tags.map((t) => t.name), ['e']);
    assert.equal(third.res.headers.get('link'), null);
    assert.equal((await fetch(`${registry.url}/v2/${name}/_berth/tags?n=x`)).status, 400);
    assert.equal((await fetch(`${registry.url}/v2/${repoName('none')}/_berth/tags`)).status, 404);
  });

  test('a missing config: listed with what is known (size null), never a 500', async () => {
    const r = registry.r();
    const name = repoName('details');
    const image = await pushImage(r, name, 'broken');
    await driver.delete(paths.blobData(parseDigest(image.config.digest)));
    const { res, body } = await details(`/v2/${name}/_berth/tags`);
    assert.equal(res.status, 200);
    assert.equal(body.tags[0].digest, image.manifest.digest);
    assert.equal(body.tags[0].size, null);
    assert.deepEqual(body.tags[0].platforms, []);
  });

  test('a tag deleted between the listing and its read is left out', async () => {
    const r = registry.r();
    const name = repoName('details');
    const image = await pushImage(r, name, 'kept');
    assert.equal((await pushManifest(r, name, 'gone', image.manifest)).status, 201);
    // The tag's directory stays listed (as a delete racing the listing leaves it) but its link is gone.
    await driver.delete(paths.tagCurrentLink(name, 'gone'));
    const { res, body } = await details(`/v2/${name}/_berth/tags`);
    assert.equal(res.status, 200);
    assert.deepEqual(body.tags.map((t) => t.name), ['kept']);
  });

  test('usage: the bytes its manifests reach, each blob once', async () => {
    const r = registry.r();
    const name = repoName('usage');
    const a = await pushImage(r, name, 'a');
    const b = await pushImage(r, name, 'b', { layers: [descriptor(a.layer, MT.ociLayer)] });
    const res = await fetch(`${registry.url}/v2/${name}/_berth/usage`);
    assert.equal(res.status, 200);
    const usage = (await res.json()) as { name: string; bytes: number; blobs: number };
    assert.equal(usage.bytes, a.manifest.size + a.config.size + a.layer.size + b.manifest.size + b.config.size);
    assert.equal(usage.blobs, 5);
    assert.equal((await fetch(`${registry.url}/v2/${repoName('none')}/_berth/usage`)).status, 404);
  });
});

describe('tags with details and usage need pull access', () => {
  let fx: AuthFixture;
  let reg: AuthRegistry;
  before(async () => {
    fx = await authFixture();
    reg = await startAuthRegistry(authConfig({ htpasswd: { path: fx.htpasswd }, token: {}, accesscontrol: ACCESS_CONTROL }));
    const push = await tokenFor(reg.url, 'alice', ['repository:private/app:pull,push']);
    assert.equal((await pushAuthImage(reg.url, 'private/app', 'v1', `Bearer ${push}`)).status, 201);
  });
  after(async () => {
    await reg.close();
    await fx.cleanup();
  });

  for (const path of ['/v2/private/app/_berth/tags', '/v2/private/app/_berth/usage']) {
    test(`${path}: anonymous 401, bob (no pull) 401, alice 200`, async () => {
      const anonymous = await fetch(`${reg.url}${path}`);
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /scope="repository:private\/app:pull"/);
      const bob = await tokenFor(reg.url, 'bob', ['repository:private/app:pull']);
      assert.equal((await fetch(`${reg.url}${path}`, { headers: { authorization: `Bearer ${bob}` } })).status, 401);
      const alice = await tokenFor(reg.url, 'alice', ['repository:private/app:pull']);
      const ok = await fetch(`${reg.url}${path}`, { headers: { authorization: `Bearer ${alice}` } });
      assert.equal(ok.status, 200, await ok.clone().text());
      const body = (await ok.json()) as { tags?: Detail[]; bytes?: number };
      if (body.tags) assert.deepEqual(body.tags.map((t) => t.name), ['v1']);
      else assert.ok((body.bytes ?? 0) > 0);
    });
  }
});
