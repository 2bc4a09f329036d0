import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { storageFault } from '../../src/storage-faults';
import { PathExistsError, PathNotFoundError } from '../errors';
import type { StorageDriver } from '../types';
import { createS3Driver, type S3DriverOptions } from './index';

interface Seen {
  /** `raw` for the driver's own client, `sdk` for the SDK's (which sends an invocation id). */
  by: 'raw' | 'sdk';
  method: string;
  /** The request target as sent, without its query. */
  url: string;
  /** The key's path, decoded. */
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

type Answer = (seen: Seen, res: http.ServerResponse, req: http.IncomingMessage) => void;

/** What a bucket answers by default: objects kept in a map, conditional PUTs honoured. */
function bucketAnswer(objects: Map<string, Buffer>): Answer {
  return (seen, res) => {
    const stored = objects.get(seen.path);
    if (seen.method === 'PUT') {
      if (seen.headers['if-none-match'] === '*' && stored) {
        res.writeHead(412, { 'Content-Type': 'application/xml' });
        return void res.end('<Error><Code>PreconditionFailed</Code></Error>');
      }
      objects.set(seen.path, seen.body);
      res.writeHead(200, { ETag: '"e"', 'Content-Length': '0' });
      return void res.end();
    }
    if (!stored) {
      res.writeHead(404, { 'Content-Type': 'application/xml' });
      return void res.end(seen.method === 'HEAD' ? undefined : '<Error><Code>NoSuchKey</Code></Error>');
    }
    res.writeHead(200, { 'Content-Length': String(stored.length), 'Last-Modified': 'Sat, 05 Dec 2026 12:00:00 GMT' });
    res.end(seen.method === 'HEAD' ? undefined : stored);
  };
}

/**
 * The S3 driver's small requests (statFile's HEAD, getContent's GET, putContent's PUT) against a
 * stand-in S3 that tells the driver's own client from the SDK's: each goes out once on the raw
 * path, and what that path does not settle (an error status other than 404 and 412, a connection
 * lost before its answer) goes to the SDK, whose retries apply.
 */
describe('S3 small requests: the raw path and its fallbacks', () => {
  let server: http.Server;
  let endpoint: string;
  let seen: Seen[] = [];
  let objects = new Map<string, Buffer>();
  let answer: Answer = () => undefined;

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const s: Seen = { by: req.headers['amz-sdk-invocation-id'] ? 'sdk' : 'raw', method: req.method!, url: (req.url ?? '').split('?')[0], path: decodeURIComponent((req.url ?? '').split('?')[0]), headers: req.headers, body: Buffer.concat(chunks) };
        seen.push(s);
        answer(s, res, req);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => {
    seen = [];
    objects = new Map();
    answer = bucketAnswer(objects);
  });

  function driver(extra: Partial<S3DriverOptions> = {}): StorageDriver {
    return createS3Driver({ bucket: 'b', region: 'us-east-1', regionendpoint: endpoint, forcepathstyle: true, accesskey: 'a', secretkey: 's', rootdirectory: '/x', ...extra });
  }

  const shapes = () => seen.map((s) => `${s.by} ${s.method} ${s.path}`);

  it('HEAD, GET and PUT of small objects each go out once, signed, on the raw path', async () => {
    const d = driver();
    await d.putContent('/a/link', Buffer.from('sha256:abc'));
    assert.equal((await d.getContent('/a/link')).toString(), 'sha256:abc');
    const info = await d.statFile('/a/link');
    assert.equal(info?.size, 10);
    assert.equal(info?.modTime.toISOString(), '2026-12-05T12:00:00.000Z');
    assert.deepEqual(shapes(), ['raw PUT /b/x/a/link', 'raw GET /b/x/a/link', 'raw HEAD /b/x/a/link']);
    for (const s of seen) {
      assert.match(String(s.headers.authorization), /^AWS4-HMAC-SHA256 Credential=a\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=(?:[^,]*;)?host;x-amz-content-sha256;x-amz-date(?:;[^,]*)?, Signature=[0-9a-f]{64}$/);
      assert.equal(s.headers['x-amz-content-sha256'], createHash('sha256').update(s.body).digest('hex'));
    }
  });

  it('keys are escaped as the SDK escapes them', async () => {
    const store = bucketAnswer(objects);
    // Each raw request refused, so that the SDK sends the same key.
    answer = (s, res, req) => (s.by === 'sdk' ? store(s, res, req) : void res.writeHead(503, { 'Content-Length': '0' }).end());
    // Every character a driver path may hold (storage-drivers/paths.ts).
    const path = '/a/sha256:Ab9/x_y-z.w';
    await driver().putContent(path, Buffer.from('x'));
    assert.deepEqual(seen.map((s) => s.by), ['raw', 'sdk']);
    assert.equal(seen[0].url, seen[1].url);
    assert.equal(seen[0].path, `/b/x${path}`);
  });

  it("delete's looks at the exact key and its upload object are raw HEADs", async () => {
    objects.set('/b/x/a/file', Buffer.from('f'));
    const store = bucketAnswer(objects);
    const xml = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>${body}`;
    const ns = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';
    answer = (s, res, req) => {
      const query = new URL(req.url ?? '', 'http://x').searchParams;
      if (s.method === 'GET' && query.has('uploads')) return void res.end(xml(`<ListMultipartUploadsResult ${ns}><Bucket>b</Bucket><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`));
      if (s.method === 'GET' && query.get('list-type') === '2') return void res.end(xml(`<ListBucketResult ${ns}><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`));
      if (s.method === 'POST' && query.has('delete')) return void res.end(xml(`<DeleteResult ${ns}></DeleteResult>`));
      store(s, res, req);
    };
    await driver().delete('/a/file');
    assert.deepEqual(
      seen.filter((s) => s.method === 'HEAD').map((s) => `${s.by} ${s.path}`).sort(),
      ['raw /b/x/a/file', 'raw /b/x/a/file#upload'],
    );
    assert.ok(seen.some((s) => s.method === 'POST'), 'the present key deleted');
  });

  it('a PUT carries the encryption and storage class options, signed', async () => {
    await driver({ encrypt: true, keyid: 'k1', storageclass: 'REDUCED_REDUNDANCY' }).putContent('/a/data', Buffer.from('x'), { ifAbsent: true });
    assert.deepEqual(shapes(), ['raw PUT /b/x/a/data']);
    const [put] = seen;
    assert.equal(put.headers['x-amz-server-side-encryption'], 'aws:kms');
    assert.equal(put.headers['x-amz-server-side-encryption-aws-kms-key-id'], 'k1');
    assert.equal(put.headers['x-amz-storage-class'], 'REDUCED_REDUNDANCY');
    assert.equal(put.headers['if-none-match'], '*');
    const signed = /SignedHeaders=([^,]*)/.exec(String(put.headers.authorization))?.[1].split(';');
    for (const h of ['if-none-match', 'x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-storage-class']) assert.ok(signed?.includes(h), `${h} signed`);
  });

  it('a 404 answers at once: statFile null, getContent PathNotFoundError', async () => {
    const d = driver();
    assert.equal(await d.statFile('/absent'), null);
    await assert.rejects(d.getContent('/absent'), PathNotFoundError);
    assert.deepEqual(shapes(), ['raw HEAD /b/x/absent', 'raw GET /b/x/absent']);
  });

  it('a conditional PUT on a present key: PathExistsError from its 412, nothing sent again', async () => {
    objects.set('/b/x/a/link', Buffer.from('old'));
    await assert.rejects(driver().putContent('/a/link', Buffer.from('new'), { ifAbsent: true }), PathExistsError);
    assert.deepEqual(shapes(), ['raw PUT /b/x/a/link']);
    assert.equal(objects.get('/b/x/a/link')?.toString(), 'old');
  });

  it('503 SlowDown: the request goes to the SDK, which gets the answer', async () => {
    objects.set('/b/x/a/link', Buffer.from('abc'));
    const store = bucketAnswer(objects);
    answer = (s, res, req) => {
      if (s.by === 'sdk') return store(s, res, req);
      res.writeHead(503, { 'Content-Type': 'application/xml', 'Content-Length': '34' });
      res.end('<Error><Code>SlowDown</Code></Error>'.slice(0, 34));
    };
    const d = driver();
    assert.equal((await d.statFile('/a/link'))?.size, 3);
    assert.equal((await d.getContent('/a/link')).toString(), 'abc');
    await d.putContent('/a/other', Buffer.from('def'), { ifAbsent: true });
    assert.equal(objects.get('/b/x/a/other')?.toString(), 'def');
    assert.deepEqual(shapes(), ['raw HEAD /b/x/a/link', 'sdk HEAD /b/x/a/link', 'raw GET /b/x/a/link', 'sdk GET /b/x/a/link', 'raw PUT /b/x/a/other', 'sdk PUT /b/x/a/other']);
  });

  it('a connection lost before its answer: the SDK sends the request again, a conditional PUT still conditional', async () => {
    const store = bucketAnswer(objects);
    answer = (s, res, req) => {
      if (s.by === 'sdk') return store(s, res, req);
      // The PUT is applied, and its answer lost: the SDK's PUT then meets the raw one's object.
      if (s.method === 'PUT') objects.set(s.path, s.body);
      req.socket.destroy();
    };
    const d = driver();
    await d.putContent('/a/plain', Buffer.from('p'));
    await assert.rejects(d.putContent('/a/cond', Buffer.from('c'), { ifAbsent: true }), PathExistsError);
    assert.equal((await d.getContent('/a/plain')).toString(), 'p');
    assert.deepEqual(shapes(), ['raw PUT /b/x/a/plain', 'sdk PUT /b/x/a/plain', 'raw PUT /b/x/a/cond', 'sdk PUT /b/x/a/cond', 'raw GET /b/x/a/plain', 'sdk GET /b/x/a/plain']);
    assert.equal(seen[3].headers['if-none-match'], '*');
  });

  it("a clock the SDK learnt is off from the service's signs the raw requests too", async () => {
    objects.set('/b/x/a/link', Buffer.from('abc'));
    const store = bucketAnswer(objects);
    const hourAhead = new Date(Date.now() + 3_600_000);
    answer = (s, res, req) => {
      if (s.by === 'sdk') res.setHeader('Date', hourAhead.toUTCString());
      // Only the first raw request is refused: the SDK's answer carries the service's clock.
      if (s.by === 'raw' && seen.length === 1) return void res.writeHead(503, { 'Content-Length': '0' }).end();
      store(s, res, req);
    };
    const d = driver();
    await d.statFile('/a/link');
    await d.statFile('/a/link');
    assert.deepEqual(shapes(), ['raw HEAD /b/x/a/link', 'sdk HEAD /b/x/a/link', 'raw HEAD /b/x/a/link']);
    const signedAt = (s: Seen) => {
      const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(s.headers['x-amz-date']))!;
      return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    };
    assert.ok(Math.abs(signedAt(seen[2]) - hourAhead.getTime()) < 60_000, `signed at ${String(seen[2].headers['x-amz-date'])}, the service's clock ${hourAhead.toISOString()}`);
  });

  it('no answer within requesttimeout: a timeout (a storage fault), not sent again', async () => {
    answer = () => undefined;
    const d = driver({ requesttimeout: 300 });
    for (const op of [() => d.statFile('/a/link'), () => d.getContent('/a/link'), () => d.putContent('/a/link', Buffer.from('x'))]) {
      const started = Date.now();
      const err = await op().then(
        () => assert.fail('answered'),
        (e: unknown) => e,
      );
      assert.equal(storageFault(err)?.code, 'ETIMEDOUT', String(err));
      assert.ok(Date.now() - started < 2_000, `${Date.now() - started} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual(shapes(), ['raw HEAD /b/x/a/link', 'raw GET /b/x/a/link', 'raw PUT /b/x/a/link']);
  });
});
