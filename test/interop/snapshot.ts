import assert from 'node:assert/strict';
import { OCI_INDEX, OCI_MANIFEST, OciClient, digestOf, sha256 } from './oci-client';
import type { Scenario } from './scenario';

/** What a registry answered for one resource, GET and HEAD, minus what legitimately varies (Date). */
export interface Observation {
  status: number;
  /** Docker-Content-Digest; for blobs `as requested` when it repeats the reference (see blobDigest) */
  digest: string | null;
  contentType: string | null;
  contentLength: string | null;
  /** the GET body's digest, in the reference's algorithm: equal digests mean byte-identical bodies */
  bodyDigest: string;
  bodyLength: number;
  /** for manifests: the type the bytes declare, or that their shape implies (umoci omits the field) */
  bodyMediaType: string | null;
  head: { status: number; digest: string | null; contentType: string | null; contentLength: string | null };
}

/** Key → observation, plus the catalog and tag lists: everything a client can read back. */
export type Snapshot = Map<string, unknown>;

/** The media type a manifest's bytes declare, or the one its shape implies (umoci omits the field). */
function declaredType(bytes: Buffer): string {
  const m = JSON.parse(bytes.toString('utf8')) as ManifestJson;
  return m.mediaType ?? (m.manifests ? OCI_INDEX : OCI_MANIFEST);
}

/**
 * Distribution 2.8 answers a sha512 blob reference with the blob's canonical sha256 digest; Berth
 * repeats the reference. Both name the same bytes, so both count as correct and as equal.
 */
function blobDigest(header: string | null, ref: string, body: Buffer): string | null {
  if (header === ref || header === sha256(body)) return 'as requested';
  return header;
}

async function observe(client: OciClient, kind: 'manifest' | 'blob', repo: string, ref: string): Promise<{ obs: Observation; body: Buffer }> {
  const get = kind === 'manifest' ? await client.getManifest(repo, ref) : await client.getBlob(repo, ref);
  const head = kind === 'manifest' ? await client.getManifest(repo, ref, 'HEAD') : await client.getBlob(repo, ref, 'HEAD');
  const h = (r: typeof get, name: string) => r.headers.get(name);
  const ok = get.status === 200;
  const algorithm = ref.startsWith('sha512:') ? 'sha512' : 'sha256';
  const digest = (r: typeof get) => (kind === 'blob' ? blobDigest(h(r, 'docker-content-digest'), ref, get.body) : h(r, 'docker-content-digest'));
  return {
    body: get.body,
    obs: {
      status: get.status,
      digest: ok ? digest(get) : null,
      contentType: ok ? h(get, 'content-type') : null,
      contentLength: ok ? h(get, 'content-length') : null,
      bodyDigest: ok ? digestOf(get.body, algorithm) : '',
      bodyLength: ok ? get.body.length : 0,
      bodyMediaType: ok && kind === 'manifest' ? declaredType(get.body) : null,
      head: {
        status: head.status,
        digest: head.status === 200 ? digest(head) : null,
        contentType: head.status === 200 ? h(head, 'content-type') : null,
        contentLength: head.status === 200 ? h(head, 'content-length') : null,
      },
    },
  };
}

interface ManifestJson {
  mediaType?: string;
  manifests?: Array<{ digest: string }>;
  config?: { digest: string };
  layers?: Array<{ digest: string }>;
}

/**
 * Reads back everything reachable: the catalog, every tag, every manifest by tag and by digest,
 * every child manifest and blob they reference, plus `extraManifests` (untagged or deleted ones).
 */
export async function takeSnapshot(
  client: OciClient,
  extraManifests: Array<{ repo: string; digest: string }>,
  extraBlobs: Array<{ repo: string; digest: string }> = [],
): Promise<Snapshot> {
  const snap: Snapshot = new Map();
  const repos = await client.catalog();
  snap.set('catalog', repos);
  const seen = new Set<string>();
  const visitBlob = async (repo: string, digest: string) => {
    const key = `blob ${repo}@${digest}`;
    if (seen.has(key)) return;
    seen.add(key);
    snap.set(key, (await observe(client, 'blob', repo, digest)).obs);
  };
  const visitManifest = async (repo: string, ref: string): Promise<void> => {
    const key = `manifest ${repo}${ref.includes(':') ? '@' : ':'}${ref}`;
    if (seen.has(key)) return;
    seen.add(key);
    const { obs, body } = await observe(client, 'manifest', repo, ref);
    snap.set(key, obs);
    if (obs.status !== 200) return;
    if (obs.digest) await visitManifest(repo, obs.digest);
    const m = JSON.parse(body.toString('utf8')) as ManifestJson;
    for (const child of m.manifests ?? []) await visitManifest(repo, child.digest);
    if (m.config) await visitBlob(repo, m.config.digest);
    for (const layer of m.layers ?? []) await visitBlob(repo, layer.digest);
  };
  for (const repo of repos) {
    const tags = await client.tagsOrStatus(repo);
    if (typeof tags === 'number') {
      // Distribution 2.8 answers 404 for a repository that has no tags directory (blobs only, or
      // manifests pushed by digest only); Berth answers an empty list. Both say "no tags".
      snap.set(`tags ${repo}`, tags === 404 ? [] : tags);
      snap.set(`tags order ${repo}`, `status ${tags}`);
      continue;
    }
    // Distribution 2.8 lists tags in directory order; Berth sorts them, as the spec asks.
    snap.set(`tags ${repo}`, [...tags].sort());
    snap.set(`tags order ${repo}`, JSON.stringify(tags) === JSON.stringify([...tags].sort()) ? 'sorted' : tags);
    for (const tag of tags) await visitManifest(repo, tag);
  }
  for (const { repo, digest } of extraManifests) await visitManifest(repo, digest);
  for (const { repo, digest } of extraBlobs) await visitBlob(repo, digest);
  return snap;
}

/** Runs every check, then fails once with all their messages, so one mismatch hides no other. */
class SoftChecks {
  readonly failures: string[] = [];
  check(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.failures.push((e as Error).message);
    }
  }
  done(who: string): void {
    assert.equal(this.failures.length, 0, `${who}: ${this.failures.length} mismatches:\n${this.failures.join('\n\n')}`);
  }
}

/** Checks a snapshot against what was pushed, independently of any other registry's answers. */
export function assertSnapshotMatches(snap: Snapshot, s: Scenario, who: string, opts: { sortedTags: boolean }): void {
  const soft = new SoftChecks();
  soft.check(() => assert.deepEqual(snap.get('catalog'), s.repos, `${who}: catalog`));
  for (const repo of Object.keys(s.tags)) {
    soft.check(() => assert.deepEqual(snap.get(`tags ${repo}`), [...s.tags[repo]].sort(), `${who}: tags of ${repo}`));
    if (opts.sortedTags) soft.check(() => assert.equal(snap.get(`tags order ${repo}`), 'sorted', `${who}: tags of ${repo} in lexical order`));
  }
  for (const repo of s.untaggedRepos) soft.check(() => assert.deepEqual(snap.get(`tags ${repo}`), [], `${who}: no tags in ${repo}`));
  for (const m of s.manifests) {
    for (const ref of [`${m.repo}@${m.digest}`, ...m.tags.map((t) => `${m.repo}:${t}`)]) {
      soft.check(() => {
        const o = snap.get(`manifest ${ref}`) as Observation | undefined;
        assert.ok(o, `${who}: manifest ${ref} was not reached`);
        assert.equal(o.status, 200, `${who}: GET manifest ${ref}`);
        assert.equal(o.digest, m.digest, `${who}: Docker-Content-Digest of ${ref}`);
        assert.equal(o.bodyDigest, m.digest, `${who}: body of ${ref} hashes to its digest`);
        if (m.bytes) assert.equal(o.bodyLength, m.bytes.length, `${who}: length of ${ref}`);
        assert.equal(o.contentType, m.mediaType, `${who}: Content-Type of ${ref}`);
        assert.equal(o.contentLength, String(o.bodyLength), `${who}: Content-Length of ${ref}`);
        const head = { status: 200, digest: m.digest, contentType: m.mediaType, contentLength: String(o.bodyLength) };
        assert.deepEqual(o.head, head, `${who}: HEAD ${ref}`);
      });
    }
  }
  for (const b of s.blobs) {
    soft.check(() => {
      const o = snap.get(`blob ${b.repo}@${b.digest}`) as Observation | undefined;
      assert.ok(o, `${who}: blob ${b.repo}@${b.digest} was not reached`);
      assert.equal(o.status, 200, `${who}: GET blob ${b.repo}@${b.digest}`);
      assert.equal(o.bodyDigest, b.digest, `${who}: bytes of blob ${b.repo}@${b.digest}`);
      assert.equal(o.bodyLength, b.bytes.length, `${who}: length of blob ${b.repo}@${b.digest}`);
      assert.equal(o.digest, 'as requested', `${who}: Docker-Content-Digest of blob ${b.digest}`);
      assert.equal(o.contentLength, String(b.bytes.length), `${who}: Content-Length of blob ${b.digest}`);
      assert.deepEqual(
        { status: o.head.status, digest: o.head.digest, length: o.head.contentLength },
        { status: 200, digest: 'as requested', length: String(b.bytes.length) },
        `${who}: HEAD blob ${b.repo}@${b.digest}`,
      );
    });
  }
  for (const d of s.deleted) {
    soft.check(() => {
      const o = snap.get(`manifest ${d.repo}@${d.digest}`) as Observation | undefined;
      assert.equal(o?.status, 404, `${who}: deleted manifest ${d.repo}@${d.digest}`);
      assert.equal(o?.head.status, 404, `${who}: HEAD deleted manifest ${d.repo}@${d.digest}`);
    });
  }
  // Every manifest reached (children and skopeo's too) carries the type its bytes declare.
  for (const [key, value] of snap) {
    if (!key.startsWith('manifest ')) continue;
    const o = value as Observation;
    if (o.status !== 200) continue;
    soft.check(() => assert.equal(o.bodyDigest, o.digest, `${who}: ${key} hashes to its Docker-Content-Digest`));
    soft.check(() => assert.equal(o.contentType, o.bodyMediaType, `${who}: Content-Type of ${key}`));
  }
  soft.done(who);
}

/** Both registries must answer every read identically. */
export function assertSameSnapshots(a: Snapshot, b: Snapshot, aName: string, bName: string): void {
  const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => !k.startsWith('tags order ')).sort();
  const diffs: string[] = [];
  for (const k of keys) {
    const va = JSON.stringify(a.get(k));
    const vb = JSON.stringify(b.get(k));
    if (va !== vb) diffs.push(`${k}\n  ${aName}: ${va}\n  ${bName}: ${vb}`);
  }
  assert.equal(diffs.length, 0, `${aName} and ${bName} answer differently:\n${diffs.join('\n')}`);
}

/** The referrers API lists the scenario's artifact under its subject, with the spec's fields. */
export async function assertReferrerListed(client: OciClient, s: Scenario, who: string): Promise<void> {
  const { repo, subject, digest, artifactType, size } = s.referrer;
  const res = await client.referrers(repo, subject);
  assert.equal(res.status, 200, `${who}: GET /v2/${repo}/referrers/${subject}: ${res.body.toString()}`);
  const index = JSON.parse(res.body.toString('utf8')) as { manifests: Array<Record<string, unknown>> };
  assert.deepEqual(
    index.manifests,
    [{ mediaType: OCI_MANIFEST, digest, size, artifactType, annotations: { 'org.example.kind': 'sbom' } }],
    `${who}: referrers of ${repo}@${subject}`,
  );
}
