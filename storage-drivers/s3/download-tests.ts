import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import type { Rgw } from '../../test/helpers/rgw';
import { copyTo } from '../streams';
import { PathNotFoundError } from '../errors';
import { CheckingSink } from '../testsuite/checking-sink';
import { Pattern, putPattern, readAll } from '../testsuite/helpers';
import { createS3Driver } from './index';
import { MAX_IN_FLIGHT } from './object-reader';
import type { MakeOptions } from './rgw-tests';
import { startTcpRelay } from './test-support';

const MiB = 1024 * 1024;

async function until(what: string | (() => string), ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`still waiting after 10 s: ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Downloads on a real RGW (the last on a stand-in that sends when told): their buffers, their
 * connections, bodies that S3 cuts short, and the stall bound against a sink that holds them back.
 */
export function downloadTests(makeOptions: MakeOptions, rgw: () => Rgw): void {
  it('copyTo sends a whole or ranged object through a few reused buffers, never one reused early', async () => {
    const driver = createS3Driver(await makeOptions());
    const pattern = new Pattern(61);
    const size = 24 * MiB + 5;
    await putPattern(driver, '/big/data', pattern, size);
    for (const [offset, length] of [
      [0, undefined],
      [MiB + 3, 7 * MiB],
    ] as const) {
      const sink = new CheckingSink();
      await copyTo(await driver.reader('/big/data', { offset, length }), sink);
      const end = length === undefined ? size : offset + length;
      assert.ok(sink.bytes().equals(pattern.bytes(offset, end)), `bytes ${offset}-${end}`);
      assert.equal(sink.mismatches, 0);
      // A buffer per socket read would be hundreds (the SDK's: one per 64 KiB or less).
      assert.ok(sink.stores.size <= 8, `${sink.stores.size} buffers for ${(end - offset) / MiB} MiB`);
    }
    await driver.delete('/big');
  });

  it('reads keep one connection to S3; a sink that goes away or an abort closes it at once', async () => {
    const options = await makeOptions();
    const pattern = new Pattern(62);
    await putPattern(createS3Driver(options), '/small/data', pattern, 1000);
    await putPattern(createS3Driver(options), '/big/data', pattern, 24 * MiB);
    const relay = await startTcpRelay(rgw().endpoint);
    try {
      const driver = createS3Driver({ ...options, regionendpoint: relay.url });
      for (let i = 0; i < 3; i++) {
        assert.ok((await readAll(await driver.reader('/small/data'))).equals(pattern.bytes(0, 1000)));
        const sink = new CheckingSink();
        await copyTo(await driver.reader('/small/data'), sink);
        assert.ok(sink.bytes().equals(pattern.bytes(0, 1000)));
      }
      assert.equal(relay.accepted, 1, 'six reads, one after another, on one connection');

      const gone = new CheckingSink(true);
      const copying = copyTo(await driver.reader('/big/data'), gone);
      await until('the first bytes reach the sink', () => gone.pending.length > 0);
      gone.destroy();
      await assert.rejects(copying);
      await until('the connection to S3 closes', () => relay.open === 0);

      const controller = new AbortController();
      const held = new CheckingSink(true);
      const aborted = copyTo(await driver.reader('/big/data', { signal: controller.signal }), held);
      await until('the first bytes reach the sink', () => held.pending.length > 0);
      controller.abort();
      await assert.rejects(aborted, { name: 'AbortError' });
      await until('the connection to S3 closes', () => relay.open === 0);
      assert.ok(held.bytes().length < 24 * MiB);
    } finally {
      await relay.close();
    }
  });

  it('a body that S3 cuts short fails the read instead of ending early', async () => {
    const options = await makeOptions();
    const pattern = new Pattern(63);
    await putPattern(createS3Driver(options), '/big/data', pattern, 8 * MiB);
    for (const cutBody of [3 * MiB, 0]) {
      const relay = await startTcpRelay(rgw().endpoint, { cutBody });
      try {
        const driver = createS3Driver({ ...options, regionendpoint: relay.url });
        const sink = new CheckingSink();
        await assert.rejects(copyTo(await driver.reader('/big/data'), sink));
        assert.equal(sink.writableFinished, false, `cut after ${cutBody}: the sink was not ended as if complete`);
        assert.ok(sink.bytes().length <= cutBody);
        await assert.rejects(readAll(await driver.reader('/big/data')));
        // Once a body has started, a failure is the read's: no second GET (the SDK's) splices on more.
        const gets = relay.requestLines.filter((l) => l.startsWith('GET '));
        assert.deepEqual(
          gets.map((l) => /X-Amz-Signature=/.test(l)),
          [true, true],
          gets.join(', '),
        );
      } finally {
        await relay.close();
      }
    }
  });

  it('time the sink holds a download back never counts as S3 stalling, however the two line up', async () => {
    const stallMs = 1000;
    // Small enough that each arrives as one socket read.
    const piece = Buffer.alloc(16 * 1024, 7);
    const cycles = 4;
    const total = cycles * MAX_IN_FLIGHT * piece.length;
    // A stand-in for S3 that sends, a cycle at a time, as many pieces as a download may have in the
    // sink, and the next cycle only when told: nothing is left waiting on the socket. The sink holds
    // each cycle well past the stall bound, then lets go, and S3 answers 700 ms later: a bound
    // counted from the last byte rather than from the release fires in that gap in most cycles.
    const s3 = { sendCycle: () => undefined as void };
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Length': String(total) });
      res.flushHeaders();
      s3.sendCycle = () => {
        let sent = 0;
        const next = () => {
          res.write(piece);
          if (++sent < MAX_IN_FLIGHT) setTimeout(next, 20);
        };
        next();
      };
      setTimeout(() => s3.sendCycle(), 100);
      req.on('close', () => res.destroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const driver = createS3Driver({ bucket: 'b', region: 'us-east-1', regionendpoint: endpoint, forcepathstyle: true, accesskey: 'a', secretkey: 's', requesttimeout: stallMs });
      const sink = new CheckingSink(true);
      let failed: unknown;
      const copying = copyTo(await driver.reader('/data'), sink).catch((err: unknown) => (failed = err));
      for (let cycle = 1; cycle <= cycles && failed === undefined; cycle++) {
        await until(() => `cycle ${cycle} in the sink (${sink.writableLength} bytes held, ${sink.bytes().length} written)`, () => sink.writableLength === MAX_IN_FLIGHT * piece.length || failed !== undefined);
        await new Promise((resolve) => setTimeout(resolve, 1.5 * stallMs));
        // Each callback lets the sink take the next chunk, which it holds in turn.
        while (sink.pending.length > 0) sink.release();
        if (cycle === cycles) break;
        await new Promise((resolve) => setTimeout(resolve, 0.7 * stallMs));
        s3.sendCycle();
      }
      while (failed === undefined && sink.bytes().length < total) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        sink.release();
      }
      await copying;
      assert.equal(failed, undefined);
      assert.ok(sink.bytes().equals(Buffer.alloc(total, 7)));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('a 404 is PathNotFoundError at once; another error status is left to the SDK, which sends the GET again', async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      const presigned = (req.url ?? '').includes('X-Amz-Signature=');
      seen.push(`${presigned ? 'presigned' : 'sdk'} ${req.url?.split('?')[0]}`);
      if (req.url?.startsWith('/b/x/missing')) {
        res.writeHead(404, { 'Content-Type': 'application/xml' });
        return void res.end('<Error><Code>NoSuchKey</Code></Error>');
      }
      if (presigned) {
        res.writeHead(503, { 'Content-Type': 'application/xml' });
        return void res.end('<Error><Code>SlowDown</Code></Error>');
      }
      res.writeHead(200, { 'Content-Length': '5' });
      res.end('hello');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const driver = createS3Driver({ bucket: 'b', region: 'us-east-1', regionendpoint: endpoint, forcepathstyle: true, accesskey: 'a', secretkey: 's', rootdirectory: '/x' });
      await assert.rejects(driver.reader('/missing'), PathNotFoundError);
      assert.deepEqual(seen, ['presigned /b/x/missing']);
      assert.equal((await readAll(await driver.reader('/busy'))).toString(), 'hello');
      assert.deepEqual(seen.slice(1), ['presigned /b/x/busy', 'sdk /b/x/busy']);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
}
