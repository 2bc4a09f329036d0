import assert from 'node:assert/strict';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { it } from 'node:test';
import type { Rgw } from '../../test/helpers/rgw';
import { PathNotFoundError } from '../errors';
import { assertContent, Pattern, putPattern, writeSession } from '../testsuite/helpers';
import { createS3Driver } from './index';
import type { S3DriverOptions } from './options';
import { countingDriver, measureRss } from './test-support';
import { createS3Client } from './context';
import { resolveS3Options } from './options';

const MiB = 1024 * 1024;

export type MakeOptions = (extra?: Partial<S3DriverOptions>) => Promise<S3DriverOptions>;

/** S3-specific behaviour on a real RGW: multipart sessions, replicas, copies, redirects, memory, cost. */
export function rgwTests(makeOptions: MakeOptions, rgw: () => Rgw): void {
  it('an upload appended across three sessions of odd sizes reads back byte-identical', async () => {
    const driver = createS3Driver(await makeOptions());
    const pattern = new Pattern(41);
    const ends = [7 * MiB, 7 * MiB + 3, 13 * MiB + 3];
    let start = 0;
    for (const [i, end] of ends.entries()) {
      await writeSession(driver, '/up/data', pattern, start, end, { append: i > 0, commit: i === ends.length - 1 });
      start = end;
    }
    await assertContent(driver, '/up/data', pattern, start);
    await driver.delete('/up');
  });

  it('a writer started by one driver instance is continued and committed by another', async () => {
    const options = await makeOptions({ chunksize: 5 * MiB });
    const [a, b] = [createS3Driver(options), createS3Driver(options)];
    const pattern = new Pattern(42);
    const path = '/uploads/u1/data';
    await writeSession(a, path, pattern, 0, 6 * MiB + 1, { append: false });
    assert.equal((await b.stat(path)).size, 6 * MiB + 1, 'the other replica sees the uncommitted bytes');
    assert.deepEqual(await b.list('/uploads/u1'), [path]);
    await writeSession(b, path, pattern, 6 * MiB + 1, 10 * MiB + 3, { append: true });
    await writeSession(a, path, pattern, 10 * MiB + 3, 10 * MiB + 6, { append: true, commit: true });
    await assertContent(b, path, pattern, 10 * MiB + 6);
    await b.delete('/uploads');
    await assert.rejects(a.stat(path), PathNotFoundError);
  });

  it('an aborted session leaves the upload where the session before it ended', async () => {
    const driver = createS3Driver(await makeOptions({ chunksize: 5 * MiB }));
    const pattern = new Pattern(46);
    const path = '/uploads/u2/data';
    await writeSession(driver, path, pattern, 0, 6 * MiB, { append: false });
    const controller = new AbortController();
    const aborted = await driver.writer(path, { append: true, signal: controller.signal });
    // Enough for one more stored part, then the client goes away.
    await assert.rejects(
      pipeline(
        (async function* () {
          yield* pattern.chunks(6 * MiB, 12 * MiB);
          controller.abort();
          yield* pattern.chunks(12 * MiB, 13 * MiB);
        })(),
        aborted,
      ),
      { name: 'AbortError' },
    );
    assert.equal((await driver.stat(path)).size, 6 * MiB);
    await writeSession(driver, path, pattern, 6 * MiB, 14 * MiB + 1, { append: true, commit: true });
    await assertContent(driver, path, pattern, 14 * MiB + 1);
    await driver.delete('/uploads');
  });

  it('purgeLeftovers aborts old multipart uploads that no upload object records, and only those', async () => {
    const options = await makeOptions({ chunksize: 5 * MiB });
    const driver = createS3Driver(options);
    const resolved = resolveS3Options(options);
    const client = createS3Client(resolved);
    const Bucket = resolved.bucket;
    const start = async (Key: string) => (await client.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId as string;
    // As a writer killed before it recorded its upload leaves it.
    const orphanKey = `${resolved.rootPrefix}blobs/orphan/data`;
    const orphan = await start(orphanKey);
    await client.send(new UploadPartCommand({ Bucket, Key: orphanKey, UploadId: orphan, PartNumber: 1, Body: Buffer.alloc(1000, 1) }));
    // Not a key the driver could have written: someone else's.
    const foreignKey = `${resolved.rootPrefix}other tool/data`;
    const foreign = await start(foreignKey);
    const pattern = new Pattern(47);
    await writeSession(driver, '/uploads/u1/data', pattern, 0, 6 * MiB + 1, { append: false });
    const uploads = async () =>
      ((await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: resolved.rootPrefix }))).Uploads ?? []).map((u) => u.Key).sort();
    assert.deepEqual(await uploads(), [orphanKey, foreignKey, `${resolved.rootPrefix}uploads/u1/data`].sort());

    assert.deepEqual(await driver.purgeLeftovers(new Date(Date.now() - 3_600_000)), [], 'young uploads are kept');
    const future = new Date(Date.now() + 60_000);
    const brief = (found: { path: string; size: number }[]) => found.map(({ path, size }) => ({ path, size }));
    const expected = [{ path: `/blobs/orphan/data#${orphan}`, size: 1000 }];
    assert.deepEqual(brief(await driver.purgeLeftovers(future, { dryRun: true })), expected);
    assert.equal((await uploads()).length, 3, 'a dry run aborts nothing');
    assert.deepEqual(brief(await driver.purgeLeftovers(future)), expected);
    assert.deepEqual(await uploads(), [foreignKey, `${resolved.rootPrefix}uploads/u1/data`].sort());

    await writeSession(driver, '/uploads/u1/data', pattern, 6 * MiB + 1, 7 * MiB, { append: true, commit: true });
    await assertContent(driver, '/uploads/u1/data', pattern, 7 * MiB);
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key: foreignKey, UploadId: foreign }));
    await driver.delete('/uploads');
  });

  it('works at the top of the bucket, with no root directory', async () => {
    const driver = createS3Driver({ ...(await makeOptions()), rootdirectory: undefined });
    await driver.putContent('/a/b', Buffer.from('b'));
    const w = await driver.writer('/a/c', { append: false });
    w.end(Buffer.from('cc'));
    await new Promise((resolve) => w.on('finish', resolve));
    assert.deepEqual(await driver.list('/'), ['/a']);
    assert.deepEqual(await driver.list('/a'), ['/a/b', '/a/c']);
    const walked: [string, number][] = [];
    for await (const info of driver.walk('/')) walked.push([info.path, info.isDir ? -1 : info.size]);
    assert.deepEqual(walked, [['/a', -1], ['/a/b', 1], ['/a/c', 2]]);
    await driver.delete('/');
    assert.deepEqual(await driver.list('/'), []);
    await assert.rejects(driver.stat('/a/c'), PathNotFoundError);
  });

  it('statFile is one HEAD, for a file, an absent key, a directory and an upload in progress', async () => {
    const { driver, requests } = countingDriver(await makeOptions());
    await driver.putContent('/f/dir/file', Buffer.from('x'));
    const upload = await driver.writer('/f/upload', { append: false });
    upload.end(Buffer.from('partial'));
    await once(upload, 'finish');
    for (const path of ['/f/dir/file', '/f/absent', '/f/dir', '/f/upload']) {
      requests.length = 0;
      const info = await driver.statFile(path);
      assert.equal(info?.size ?? null, path === '/f/dir/file' ? 1 : null, path);
      assert.deepEqual(requests, ['HeadObjectCommand'], path);
    }
    await driver.delete('/f');
  });

  it('moves an object past the copy threshold with UploadPartCopy', async () => {
    const options = await makeOptions({ multipartcopythresholdsize: 5 * MiB, multipartcopychunksize: 5 * MiB });
    const { driver, requests } = countingDriver(options);
    const pattern = new Pattern(43);
    await putPattern(driver, '/src/data', pattern, 12 * MiB + 5);
    requests.length = 0;
    await driver.move('/src/data', '/dst/data');
    assert.equal(requests.filter((r) => r === 'UploadPartCopyCommand').length, 3, requests.join(' '));
    assert.ok(!requests.includes('CopyObjectCommand'));
    await assertContent(driver, '/dst/data', pattern, 12 * MiB + 5);
    await assert.rejects(driver.stat('/src/data'), PathNotFoundError);
    await driver.delete('/dst');
  });

  it('an append writer continues a committed object of several copy parts, short last part and all', async () => {
    const options = await makeOptions({ chunksize: 5 * MiB, multipartcopychunksize: 5 * MiB });
    const { driver, requests } = countingDriver(options);
    const pattern = new Pattern(48);
    await putPattern(driver, '/up/data', pattern, 11 * MiB + 1);
    requests.length = 0;
    await writeSession(driver, '/up/data', pattern, 11 * MiB + 1, 17 * MiB, { append: true, commit: true });
    assert.equal(requests.filter((r) => r === 'UploadPartCopyCommand').length, 2, requests.join(' '));
    await assertContent(driver, '/up/data', pattern, 17 * MiB);
    await driver.delete('/up');
  });

  it('an upload object a commit completed but did not drop yields to the committed content', async () => {
    const options = await makeOptions({ chunksize: 5 * MiB });
    const driver = createS3Driver(options);
    const resolved = resolveS3Options(options);
    const client = createS3Client(resolved);
    const pattern = new Pattern(49);
    const path = '/uploads/u4/data';
    const Key = `${resolved.rootPrefix}uploads/u4/data#upload`;
    await writeSession(driver, path, pattern, 0, 6 * MiB + 1, { append: false });
    const got = await client.send(new GetObjectCommand({ Bucket: resolved.bucket, Key }));
    const recorded = { Body: Buffer.from(await got.Body!.transformToByteArray()), Metadata: got.Metadata };
    await writeSession(driver, path, pattern, 6 * MiB + 1, 7 * MiB, { append: true, commit: true });
    // A process killed between CompleteMultipartUpload and the upload object's deletion leaves this.
    await client.send(new PutObjectCommand({ Bucket: resolved.bucket, Key, ...recorded }));
    await writeSession(driver, path, pattern, 7 * MiB, 7 * MiB, { append: true, commit: true });
    await assertContent(driver, path, pattern, 7 * MiB);
    await writeSession(driver, path, pattern, 7 * MiB, 8 * MiB, { append: true, commit: true });
    await assertContent(driver, path, pattern, 8 * MiB);
    await driver.delete('/uploads');
    client.destroy();
  });

  it('presigned GET and HEAD URLs serve the content, and only as signed', async () => {
    const driver = createS3Driver(await makeOptions());
    const data = new Pattern(44).bytes(0, MiB + 17);
    await driver.putContent('/blob/data', data);
    const get = await driver.redirectUrl('/blob/data', { method: 'GET', expiresIn: 60 });
    const got = await fetch(get as string);
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
    const head = await fetch((await driver.redirectUrl('/blob/data', { method: 'HEAD', expiresIn: 60 })) as string, {
      method: 'HEAD',
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(data.length));
    const forged = new URL(get as string);
    forged.pathname = forged.pathname.replace(/data$/, 'other');
    assert.equal((await fetch(forged)).status, 403, 'a URL signed for one key does not open another');
    assert.equal((await fetch(get as string, { method: 'PUT', body: 'x' })).status, 403, 'nor another method');
    await driver.delete('/blob');
  });

  it('redirects can be turned off, or presigned for a public endpoint', async () => {
    const off = createS3Driver(await makeOptions({ redirect: false }));
    await off.putContent('/x', Buffer.from('x'));
    assert.equal(await off.redirectUrl('/x', { method: 'GET', expiresIn: 60 }), null);
    const port = new URL(rgw().endpoint).port;
    const pub = createS3Driver(await makeOptions({ publicendpoint: `http://localhost:${port}` }));
    const url = new URL((await pub.redirectUrl('/x', { method: 'GET', expiresIn: 60 })) as string);
    assert.equal(url.origin, `http://localhost:${port}`);
    assert.equal(url.searchParams.get('X-Amz-Expires'), '60');
    await off.delete('/x');
  });

  it('ignores AWS_CA_BUNDLE, set to a missing file or unset', async () => {
    const saved = process.env.AWS_CA_BUNDLE;
    try {
      for (const value of ['/nonexistent/berth-ca.pem', undefined]) {
        if (value === undefined) delete process.env.AWS_CA_BUNDLE;
        else process.env.AWS_CA_BUNDLE = value;
        const driver = createS3Driver(await makeOptions());
        await driver.putContent('/ca', Buffer.from(String(value)));
        assert.equal((await driver.getContent('/ca')).toString(), String(value));
        await driver.delete('/ca');
      }
    } finally {
      if (saved === undefined) delete process.env.AWS_CA_BUNDLE;
      else process.env.AWS_CA_BUNDLE = saved;
    }
  });

  it('RSS stays flat while 256 MiB stream through a writer and back', async (t) => {
    const driver = createS3Driver(await makeOptions());
    const size = 256 * MiB;
    const pattern = new Pattern(45);
    const write = await measureRss(() => putPattern(driver, '/big/data', pattern, size));
    const read = await measureRss(() => assertContent(driver, '/big/data', pattern, size));
    await driver.delete('/big');
    const show = (m: typeof write) =>
      `baseline ${(m.baseline / MiB).toFixed(0)} MiB, peak ${(m.peak / MiB).toFixed(0)} MiB, growth ${(m.growth / MiB).toFixed(1)} MiB`;
    t.diagnostic(`write 256 MiB: ${show(write)}`);
    t.diagnostic(`read 256 MiB: ${show(read)}`);
    assert.ok(write.growth < 64 * MiB, `writer RSS grew by ${write.growth} bytes`);
    assert.ok(read.growth < 64 * MiB, `reader RSS grew by ${read.growth} bytes`);
  });

  it('costs: stat is one request for a file, list one per 1,000 children', async (t) => {
    const { driver, requests } = countingDriver(await makeOptions());
    const names = Array.from({ length: 1001 }, (_, i) => `t${String(i).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((n) => driver.putContent(`/tags/${n}/current/link`, Buffer.from(n))));
    }
    const cost = async (what: string, call: () => Promise<unknown>) => {
      requests.length = 0;
      await call();
      t.diagnostic(`${what}: ${requests.length} requests (${requests.join(', ')})`);
      return requests.length;
    };
    assert.equal(await cost('stat of a file', () => driver.stat('/tags/t0001/current/link')), 1);
    assert.equal(await cost('stat of a directory', () => driver.stat('/tags/t0001')), 3);
    assert.equal(await cost('list of 1,001 directories', () => driver.list('/tags')), 2);
    assert.equal(await cost('list of 1 file', () => driver.list('/tags/t0001/current')), 1);
    let walked = 0;
    assert.equal(await cost('walk of 1,001 directories', async () => {
      for await (const _ of driver.walk('/tags')) walked++;
    }), 2);
    assert.equal(walked, 3 * 1001);
    const w = await driver.writer('/up/data', { append: false });
    w.end(Buffer.from('abc'));
    await new Promise((resolve) => w.on('finish', resolve));
    assert.equal(await cost('stat of an uncommitted upload', () => driver.stat('/up/data')), 3);
    assert.equal((await driver.stat('/up/data')).size, 3);
    await cost('delete of 1,001 directories', () => driver.delete('/tags'));
    await w.cancel();
    await assert.rejects(driver.stat('/up/data'), PathNotFoundError);
  });
}
