import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type request from 'supertest';
import { pushImage, pushManifest, repoName, type Catalog, type TagList } from './helpers';
import { assertOciError, startRegistry, type TestRegistry } from './server';

/** Parses `Link: <url>; rel="next"` (RFC 5988) into the URL's path and query. */
function nextLink(res: request.Response): URL | undefined {
  const link = res.headers.link as string | undefined;
  if (link === undefined) return undefined;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
  assert.ok(m, `malformed Link header: ${link}`);
  return new URL(m[1], 'http://link.invalid');
}

/** Follows Link headers from `first` and returns every page's items. */
async function paginate(reg: TestRegistry, first: string, key: 'tags' | 'repositories'): Promise<string[][]> {
  const pages: string[][] = [];
  let path: string | undefined = first;
  while (path !== undefined) {
    const res = await reg.r().get(path).expect(200);
    pages.push((res.body as Record<typeof key, string[]>)[key]);
    const next = nextLink(res);
    path = next ? next.pathname + next.search : undefined;
    assert.ok(pages.length < 50, 'pagination does not terminate');
  }
  return pages;
}

/** Spec "Listing Tags" (end-8a/b) and Distribution's catalog. */
describe('tags', () => {
  let reg: TestRegistry;
  let name: string;
  // Byte order and case-insensitive alphanumeric order agree on these.
  const sorted = ['10', '9', 'alpha', 'b', 'beta', 'latest', 'v1.0'];

  before(async () => {
    reg = await startRegistry();
    name = repoName();
    const img = await pushImage(reg.r(), name);
    for (const tag of ['latest', 'beta', '9', 'v1.0', 'alpha', '10', 'b']) await pushManifest(reg.r(), name, tag, img.manifest).expect(201);
  });
  after(async () => reg.close());

  it('lists tags in lexical order', async () => {
    const res = await reg.r().get(`/v2/${name}/tags/list`).expect(200);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.deepEqual(res.body, { name, tags: sorted });
    assert.equal(res.headers.link, undefined);
  });

  it('n limits the page and Link points at the next one', async () => {
    const res = await reg.r().get(`/v2/${name}/tags/list?n=2`).expect(200);
    assert.deepEqual((res.body as TagList).tags, ['10', '9']);
    const next = nextLink(res);
    assert.ok(next, 'a Link header when more tags exist');
    assert.equal(next.pathname, `/v2/${name}/tags/list`);
    assert.equal(next.searchParams.get('n'), '2');
    assert.equal(next.searchParams.get('last'), '9');
  });

  it('following Link walks every tag once, in order', async () => {
    const pages = await paginate(reg, `/v2/${name}/tags/list?n=3`, 'tags');
    assert.deepEqual(pages.flat(), sorted);
    for (const page of pages.slice(0, -1)) assert.equal(page.length, 3);
  });

  it('last starts after the given tag, with or without n', async () => {
    const res = await reg.r().get(`/v2/${name}/tags/list?n=2&last=b`).expect(200);
    assert.deepEqual((res.body as TagList).tags, ['beta', 'latest']);
    const rest = await reg.r().get(`/v2/${name}/tags/list?last=beta`).expect(200);
    assert.deepEqual((rest.body as TagList).tags, ['latest', 'v1.0']);
    // `last` need not be an existing tag: the list resumes after where it would sort.
    const between = await reg.r().get(`/v2/${name}/tags/list?last=c`).expect(200);
    assert.deepEqual((between.body as TagList).tags, ['latest', 'v1.0']);
    const end = await reg.r().get(`/v2/${name}/tags/list?last=v1.0`).expect(200);
    assert.deepEqual((end.body as TagList).tags, []);
  });

  it('n larger than the list returns everything without a Link', async () => {
    const res = await reg.r().get(`/v2/${name}/tags/list?n=100`).expect(200);
    assert.deepEqual((res.body as TagList).tags, sorted);
    assert.equal(res.headers.link, undefined);
  });

  it('n=0 returns an empty list and no Link', async () => {
    const res = await reg.r().get(`/v2/${name}/tags/list?n=0`).expect(200);
    assert.deepEqual(res.body, { name, tags: [] });
    assert.equal(res.headers.link, undefined);
  });

  it('an invalid n is a 400 JSON error', async () => {
    for (const n of ['-1', 'abc', '1.5', '']) {
      const res = await reg.r().get(`/v2/${name}/tags/list?n=${n}`);
      assertOciError(res, 400, ['UNSUPPORTED']);
    }
  });

  it('a repository with no tags left lists an empty array', async () => {
    const repo = repoName();
    await pushImage(reg.r(), repo, 'only');
    await reg.r().delete(`/v2/${repo}/manifests/only`).expect(202);
    const res = await reg.r().get(`/v2/${repo}/tags/list`);
    if (res.status === 200) assert.deepEqual(res.body, { name: repo, tags: [] });
    else assertOciError(res, 404, ['NAME_UNKNOWN']);
  });

  it('an unknown repository is 404 NAME_UNKNOWN', async () => {
    assertOciError(await reg.r().get(`/v2/${repoName('ghost')}/tags/list`), 404, ['NAME_UNKNOWN']);
  });
});

describe('catalog', () => {
  let reg: TestRegistry;
  const repos = ['b', 'a/nested/deep', 'c-1', 'a', 'a/x', 'a-b'];
  // Plain string order, or Distribution's path-component order ('/' sorts before any character).
  const byString = [...repos].sort();
  const byComponent = [...repos].sort((x, y) => (x.replaceAll('/', '\0') < y.replaceAll('/', '\0') ? -1 : 1));
  let sorted: string[];

  before(async () => {
    reg = await startRegistry();
    for (const repo of repos) await pushImage(reg.r(), repo, 'latest');
    sorted = ((await reg.r().get('/v2/_catalog').expect(200)).body as Catalog).repositories;
  });
  after(async () => reg.close());

  it('lists every repository, nested names included, in path-component order', async () => {
    const res = await reg.r().get('/v2/_catalog').expect(200);
    assert.ok(Array.isArray((res.body as Catalog).repositories));
    // Component order is what a sorted directory walk yields, so pages never need the whole store.
    assert.deepEqual((res.body as Catalog).repositories, byComponent);
    assert.notDeepEqual(byComponent, byString, 'the fixture should tell the two orders apart');
    assert.deepEqual(Object.keys(res.body as Catalog), ['repositories']);
    assert.equal(res.headers.link, undefined);
  });

  it('n and last paginate with a Link to the next page', async () => {
    const res = await reg.r().get('/v2/_catalog?n=2').expect(200);
    assert.deepEqual((res.body as Catalog).repositories, sorted.slice(0, 2));
    const next = nextLink(res);
    assert.ok(next);
    assert.equal(next.pathname, '/v2/_catalog');
    assert.equal(next.searchParams.get('n'), '2');
    assert.equal(next.searchParams.get('last'), sorted[1]);
    const after = await reg.r().get(`/v2/_catalog?n=2&last=${encodeURIComponent(sorted[1])}`).expect(200);
    assert.deepEqual((after.body as Catalog).repositories, sorted.slice(2, 4));
  });

  it('following Link walks every repository once, whatever the page size', async () => {
    for (const n of [1, 2, 4]) {
      const pages = await paginate(reg, `/v2/_catalog?n=${n}`, 'repositories');
      assert.deepEqual(pages.flat(), sorted, `n=${n}`);
    }
  });

  it('n=0 is an empty list without Link; an invalid n is a 400', async () => {
    const res = await reg.r().get('/v2/_catalog?n=0').expect(200);
    assert.deepEqual(res.body, { repositories: [] });
    assert.equal(res.headers.link, undefined);
    assertOciError(await reg.r().get('/v2/_catalog?n=-3'), 400, ['UNSUPPORTED']);
  });

  it('an empty registry lists no repositories', async () => {
    const empty = await startRegistry();
    try {
      const res = await empty.r().get('/v2/_catalog').expect(200);
      assert.deepEqual(res.body, { repositories: [] });
    } finally {
      await empty.close();
    }
  });
});
