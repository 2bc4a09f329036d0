// Spec v1.1.1 "Content Discovery" workflow: listing tags (n, last, Link) and listing referrers (artifactType filter).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Reply, expectError, expectStatus, json, nextLink } from './client';
import { pushBlob, pushManifest } from './actions';
import {
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
  blobOf,
  configBlob,
  descriptorOf,
  emptyBlob,
  imageIndex,
  imageManifest,
  uniqueName,
  unknownDigest,
  type Descriptor,
  type Manifest,
} from './fixtures';
import { openTarget, type Target } from './target';

interface TagList {
  name: string;
  tags: string[] | null;
}
interface Index {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

const SBOM = 'application/vnd.example.sbom.v1';
const BUNDLE = 'application/vnd.example.bundle.v1';
const SIGNATURE_CONFIG = 'application/vnd.example.signature.config.v1+json';

describe('content discovery', () => {
  let target: Target;
  const name = uniqueName('discovery');
  // Pushed in this shuffled order; the registry must list them in lexical order.
  const tags = ['b1', 'a2', 'c3', 'a1', 'd4', 'b2'];
  const sorted = [...tags].sort();
  let image: Manifest;

  before(async () => {
    target = await openTarget();
    const config = configBlob();
    await pushBlob(target.client, name, config);
    image = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [] });
    for (const tag of tags) await pushManifest(target.client, name, tag, image);
  });
  after(async () => {
    await target?.close();
  });

  describe('listing tags', () => {
    const list = async (query = ''): Promise<{ res: Reply; body: TagList }> => {
      const res = await target.client.get(`/v2/${name}/tags/list${query}`);
      expectStatus(res, 200);
      return { res, body: json<TagList>(res) };
    };

    test('GET tags/list: 200, {name, tags} with every tag in lexical order', async () => {
      const { body } = await list();
      assert.equal(body.name, name);
      assert.deepEqual(body.tags, sorted);
    });

    test('?n=2: the first two tags (fewer only with a Link header), Link with rel="next" when more remain', async () => {
      const { res, body } = await list('?n=2');
      const link = nextLink(res);
      if (!link) assert.deepEqual(body.tags, sorted.slice(0, 2));
      else assert.deepEqual(body.tags, sorted.slice(0, body.tags?.length ?? 0));
      if (target.strict) assert.ok(link, 'Berth sends Link when more tags remain');
    });

    test('following Link pages (or last= when there is none) yields every tag once, in order', async () => {
      const seen: string[] = [];
      let path: string | null = `/v2/${name}/tags/list?n=2`;
      for (let pages = 0; path; pages++) {
        assert.ok(pages < 10, 'pagination does not end');
        const res = await target.client.get(path);
        expectStatus(res, 200);
        const page = json<TagList>(res).tags ?? [];
        assert.ok(page.length <= 2, `page of ${page.length} tags for n=2`);
        seen.push(...page);
        const link = nextLink(res);
        if (link) path = link;
        else if (page.length === 2) path = `/v2/${name}/tags/list?n=2&last=${page[1]}`;
        else path = null;
      }
      assert.deepEqual(seen, sorted);
    });

    test('?n=2&last=<tag>: the two tags after <tag>, non-inclusive', async () => {
      const { body } = await list(`?n=2&last=${sorted[1]}`);
      assert.deepEqual(body.tags, sorted.slice(2, 4));
    });

    test('?last=<tag> without n: the tags after <tag>', async () => {
      const { body } = await list(`?last=${sorted[3]}`);
      assert.deepEqual(body.tags, sorted.slice(4));
    });

    test('?n=0: an empty list and no Link header', async () => {
      const { res, body } = await list('?n=0');
      assert.deepEqual(body.tags ?? [], []);
      assert.equal(res.headers.get('link'), null);
    });

    test('tags of an unknown repository: 404 NAME_UNKNOWN', async () => {
      expectError(await target.client.get(`/v2/${uniqueName('nothing')}/tags/list`), 404, ['NAME_UNKNOWN']);
    });
  });

  describe('listing referrers', () => {
    let subject: Manifest;
    let sbom: Manifest;
    let signature: Manifest;
    let plainIndex: Manifest;
    let bundle: Manifest;

    before(async () => {
      subject = image;
      await pushBlob(target.client, name, emptyBlob);
      const sigConfig = blobOf(Buffer.from('{"signed":true}'));
      await pushBlob(target.client, name, sigConfig);
      const empty = descriptorOf(emptyBlob, OCI_EMPTY);
      sbom = imageManifest({
        artifactType: SBOM,
        config: empty,
        layers: [empty],
        subject: subject.descriptor,
        annotations: { 'org.example.sbom.format': 'json' },
      });
      // No artifactType: the referrers list must carry the config's mediaType instead.
      signature = imageManifest({
        config: descriptorOf(sigConfig, SIGNATURE_CONFIG),
        layers: [empty],
        subject: subject.descriptor,
        annotations: { 'org.example.signature.fingerprint': 'abcd' },
      });
      // An index without artifactType: the descriptor must have none.
      plainIndex = imageIndex([subject.descriptor], { subject: subject.descriptor, annotations: { 'org.example.kind': 'plain' } });
      bundle = imageIndex([subject.descriptor], { subject: subject.descriptor, artifactType: BUNDLE });
      for (const m of [sbom, signature, plainIndex, bundle]) {
        const put = await pushManifest(target.client, name, m.digest, m);
        assert.equal(put.headers.get('oci-subject'), subject.digest, 'OCI-Subject on a PUT with a subject');
      }
      // Noise that must not be listed: a referrer of another subject, and one in another repository.
      const unrelated = imageManifest({ artifactType: SBOM, config: empty, layers: [empty], subject: sbom.descriptor });
      await pushManifest(target.client, name, unrelated.digest, unrelated);
      const elsewhere = uniqueName('discovery-elsewhere');
      await pushBlob(target.client, elsewhere, emptyBlob);
      const foreign = imageManifest({ artifactType: SBOM, config: empty, layers: [empty], subject: subject.descriptor, annotations: { foreign: 'yes' } });
      await pushManifest(target.client, elsewhere, foreign.digest, foreign);
    });

    /** All descriptors of a referrers response, following Link pages. */
    async function referrers(query = ''): Promise<{ first: Reply; manifests: Descriptor[] }> {
      let path: string | null = `/v2/${name}/referrers/${subject.digest}${query}`;
      const manifests: Descriptor[] = [];
      let first: Reply | undefined;
      for (let pages = 0; path; pages++) {
        assert.ok(pages < 10, 'pagination does not end');
        const res = await target.client.get(path);
        expectStatus(res, 200);
        assert.equal(res.headers.get('content-type')?.split(';')[0].trim(), OCI_INDEX);
        const body = json<Index>(res);
        assert.equal(body.schemaVersion, 2);
        assert.equal(body.mediaType, OCI_INDEX);
        manifests.push(...body.manifests);
        first ??= res;
        path = nextLink(res);
      }
      return { first: first!, manifests };
    }

    const byDigest = (list: Descriptor[]) => new Map(list.map((d) => [d.digest, d]));

    test('GET referrers: 200, an image index listing every manifest in this repository whose subject is <digest>', async () => {
      const { manifests } = await referrers();
      const got = byDigest(manifests);
      assert.deepEqual([...got.keys()].sort(), [sbom, signature, plainIndex, bundle].map((m) => m.digest).sort());
      assert.equal(manifests.length, 4, 'no duplicates');
    });

    test('each descriptor: mediaType, size, artifactType per the spec, and the manifest annotations', async () => {
      const got = byDigest((await referrers()).manifests);
      const expect = (m: Manifest, artifactType: string | undefined, annotations: Record<string, string> | undefined) => {
        const d = got.get(m.digest);
        assert.ok(d, `${m.digest} missing`);
        assert.equal(d.mediaType, m.mediaType);
        assert.equal(d.size, m.bytes.length);
        assert.equal(d.artifactType, artifactType);
        assert.deepEqual(d.annotations ?? undefined, annotations);
      };
      expect(sbom, SBOM, { 'org.example.sbom.format': 'json' });
      expect(signature, SIGNATURE_CONFIG, { 'org.example.signature.fingerprint': 'abcd' });
      expect(plainIndex, undefined, { 'org.example.kind': 'plain' });
      expect(bundle, BUNDLE, undefined);
      assert.equal(got.get(sbom.digest)?.mediaType, OCI_MANIFEST);
    });

    test('?artifactType=: only matching referrers, with OCI-Filters-Applied: artifactType', async () => {
      const { first, manifests } = await referrers(`?artifactType=${encodeURIComponent(SBOM)}`);
      const applied = first.headers.get('oci-filters-applied');
      if (target.strict) assert.equal(applied, 'artifactType');
      if (applied === null) return; // The registry did not filter; the client must.
      assert.deepEqual(applied.split(',').map((s) => s.trim()), ['artifactType']);
      assert.deepEqual(manifests.map((d) => d.digest), [sbom.digest]);
    });

    test('?artifactType= matching nothing: 200 and an empty list', async () => {
      const { first, manifests } = await referrers(`?artifactType=${encodeURIComponent('application/vnd.example.none')}`);
      if (first.headers.get('oci-filters-applied') !== null || target.strict) assert.deepEqual(manifests, []);
    });

    test('an unknown subject: 200 and an empty image index, never 404', async () => {
      const res = await target.client.get(`/v2/${name}/referrers/${unknownDigest()}`);
      expectStatus(res, 200);
      assert.equal(res.headers.get('content-type')?.split(';')[0].trim(), OCI_INDEX);
      assert.deepEqual(json<Index>(res).manifests, []);
    });

    test('an invalid digest: 400', async () => {
      const res = await target.client.get(`/v2/${name}/referrers/sha256:not-a-digest`);
      expectStatus(res, 400);
    });
  });
});
