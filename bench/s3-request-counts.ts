/**
 * Counts the S3 requests Berth sends for listing-heavy calls, through a counting proxy between
 * Berth and a real RGW started here. Run by hand after a build:
 *
 *   node dist/bench/s3-request-counts.js [tags, default 10000] [repositories, default 300]
 *
 * - Tag list of one repository with `tags` tags. The image is pushed through Berth once; the other
 *   tags are written straight into the layout through the S3 API (current/link and index link, as
 *   Distribution writes them), which takes seconds instead of a manifest PUT per tag.
 * - Catalog pages of 100 in a registry of `repositories` repositories, each created through Berth
 *   (a cross-repository mount of one config blob and a manifest PUT).
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { startRgw } from '../test/helpers/rgw';
import { startBerthOnS3, type BerthOnS3 } from '../test/s3/berth-on-s3';
import { countByOperation, startCountingProxy, type CountingProxy } from '../test/s3/counting-proxy';
import { runMain } from './run-main';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const REPOS = 'docker/registry/v2/repositories';

function sha256(data: string | Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

async function expectStatus(res: Response, status: number, what: string): Promise<Response> {
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  return res;
}

/** Pushes the one config blob and a manifest tagged latest into `name`; returns the manifest digest. */
async function pushTiny(url: string, name: string, config: Buffer, mountFrom?: string): Promise<string> {
  const digest = sha256(config);
  if (mountFrom) {
    await expectStatus(await fetch(`${url}/v2/${name}/blobs/uploads/?mount=${digest}&from=${mountFrom}`, { method: 'POST' }), 201, `mount into ${name}`);
  } else {
    await expectStatus(await fetch(`${url}/v2/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: config }), 201, `blob into ${name}`);
  }
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: config.length }, layers: [] });
  await expectStatus(
    await fetch(`${url}/v2/${name}/manifests/latest`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: manifest }),
    201,
    `manifest into ${name}`,
  );
  return sha256(manifest);
}

async function writeTags(s3: S3Client, bucket: string, name: string, digest: string, tags: string[]): Promise<void> {
  const hex = digest.split(':')[1];
  const put = (Key: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: digest }));
  await pool(tags, 64, async (tag) => {
    const dir = `${REPOS}/${name}/_manifests/tags/${tag}`;
    await put(`${dir}/current/link`);
    await put(`${dir}/index/sha256/${hex}/link`);
  });
}

async function measure(proxy: CountingProxy, reg: BerthOnS3, path: string): Promise<{ body: Record<string, unknown>; line: string }> {
  proxy.requests.length = 0;
  const started = Date.now();
  const res = await expectStatus(await fetch(`${reg.url}${path}`), 200, path);
  const body = (await res.json()) as Record<string, unknown>;
  const ms = Date.now() - started;
  const items = (body.tags ?? body.repositories) as unknown[];
  const ops = countByOperation(proxy.requests);
  const total = proxy.requests.length;
  return { body, line: `GET ${path}: ${items.length} items, ${total} S3 requests ${JSON.stringify(ops)}, ${ms} ms` };
}

async function main(): Promise<void> {
  const tagCount = Number(process.argv[2] ?? 10_000);
  const repoCount = Number(process.argv[3] ?? 300);
  const rgw = await startRgw();
  let proxy: CountingProxy | undefined;
  const regs: BerthOnS3[] = [];
  try {
    proxy = await startCountingProxy(rgw.endpoint);
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');

    const tagsReg = await startBerthOnS3(rgw, { redirect: false, endpoint: proxy.url });
    regs.push(tagsReg);
    const digest = await pushTiny(tagsReg.url, 'many/tags', config);
    const tags = Array.from({ length: tagCount - 1 }, (_, i) => `t${String(i).padStart(5, '0')}`);
    let t = Date.now();
    await writeTags(tagsReg.s3, tagsReg.bucket, 'many/tags', digest, tags);
    console.log(`wrote ${tags.length} tags through the S3 API in ${((Date.now() - t) / 1000).toFixed(1)} s (plus "latest" through Berth)`);
    const all = await measure(proxy, tagsReg, '/v2/many/tags/tags/list');
    const listed = all.body.tags as string[];
    if (listed.length !== tagCount || !listed.includes('latest')) throw new Error(`tag list has ${listed.length} tags`);
    console.log(all.line);
    console.log((await measure(proxy, tagsReg, '/v2/many/tags/tags/list?n=100')).line);
    console.log((await measure(proxy, tagsReg, '/v2/many/tags/tags/list?n=100&last=t05000')).line);

    const catReg = await startBerthOnS3(rgw, { redirect: false, endpoint: proxy.url });
    regs.push(catReg);
    const names = Array.from({ length: repoCount }, (_, i) => `repo-${String(i).padStart(4, '0')}`);
    t = Date.now();
    await pushTiny(catReg.url, names[0], config);
    await pool(names.slice(1), 16, async (name) => {
      await pushTiny(catReg.url, name, config, names[0]);
    });
    console.log(`created ${repoCount} repositories through Berth in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const page1 = await measure(proxy, catReg, '/v2/_catalog?n=100');
    if (JSON.stringify(page1.body.repositories) !== JSON.stringify(names.slice(0, 100))) throw new Error('catalog page 1 is wrong');
    console.log(page1.line);
    const page2 = await measure(proxy, catReg, `/v2/_catalog?n=100&last=${names[99]}`);
    if (JSON.stringify(page2.body.repositories) !== JSON.stringify(names.slice(100, 200))) throw new Error('catalog page 2 is wrong');
    console.log(page2.line);
    const whole = await measure(proxy, catReg, '/v2/_catalog');
    if ((whole.body.repositories as string[]).length !== repoCount) throw new Error('catalog is incomplete');
    console.log(whole.line);
  } finally {
    for (const reg of regs) await reg.stop().catch((e: Error) => console.error(`cleanup: ${e.message}`));
    await proxy?.close();
    await rgw.stop();
  }
}

runMain(main);
