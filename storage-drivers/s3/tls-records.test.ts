import { S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { createCa, issue } from '../../test/helpers/test-ca';
import { readAll } from '../testsuite/helpers';
import { type DownloadedObject, ObjectDownloads } from './object-download';

/** Several TLS records (16 KiB of plaintext each) after the head. */
const BODY = randomBytes(256 * 1024 + 7);

/**
 * ObjectDownloads against an https stand-in S3 that sends a GET's head and body in one write, so
 * that the client's first socket read holds several TLS records. TLS hands over every record it
 * has decrypted, even after the head's reader asked it to stop: the records after the head must
 * reach the body's reader, not be taken for stray bytes on an idle connection (which closed it,
 * and cut the download short: the ECONNRESET clients saw on S3 over https, docs/architecture.md).
 */
describe('S3 downloads over https: body records that come with the head', () => {
  let server: Server;
  let endpoint: string;
  const sockets = new Set<TLSSocket>();
  let rejectUnauthorized: string | undefined;
  /** Whether the server closes the connection after its answer. */
  let close = false;

  before(async () => {
    const ca = await createCa('berth-test-tls-records-ca');
    const leaf = await issue(ca, 'tls-records');
    server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      // Each request comes in one chunk: each chunk is answered, head and body in one write.
      socket.on('data', () => {
        const answer = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`), BODY]);
        if (close) socket.end(answer);
        else socket.write(answer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The driver's connections trust only the system's CAs: this test's own CA is let in by
    // accepting any certificate (read by tls.connect on each connection), in this test file only.
    rejectUnauthorized = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  });
  after(async () => {
    if (rejectUnauthorized === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = rejectUnauthorized;
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  /**
   * A download whose body is read a little later, as a blob GET reads it once the link check beside
   * it has answered: records decrypted with the head wait that long for the body's reader.
   */
  async function openLater(d: ObjectDownloads): Promise<DownloadedObject | null> {
    const got = await d.open('key', undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    return got;
  }

  function downloads(): ObjectDownloads {
    const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    return new ObjectDownloads(client, 'bucket', 5_000, 5_000);
  }

  it('read as a stream: every byte, on one kept connection', async () => {
    const d = downloads();
    for (let i = 0; i < 3; i++) {
      const got = await openLater(d);
      assert.ok(got, 'a download of its own, not left to the SDK');
      assert.ok((await readAll(got.body)).equals(BODY), `download ${i}: the whole body`);
    }
    assert.equal(sockets.size, 1, 'the connection served every download');
  });

  it('read with writeTo: every byte', async () => {
    const d = downloads();
    for (let i = 0; i < 3; i++) {
      const got = await openLater(d);
      assert.ok(got, 'a download of its own, not left to the SDK');
      const chunks: Buffer[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(Buffer.from(chunk));
          done();
        },
      });
      await got.body.writeTo(sink);
      assert.ok(Buffer.concat(chunks).equals(BODY), `download ${i}: the whole body`);
    }
  });

  it('a server that closes after the body: the body whole, the close no failure', async () => {
    close = true;
    try {
      const d = downloads();
      for (let i = 0; i < 2; i++) {
        const got = await openLater(d);
        assert.ok(got, 'a download of its own, not left to the SDK');
        assert.ok((await readAll(got.body)).equals(BODY), `download ${i}: the whole body`);
      }
    } finally {
      close = false;
    }
  });
});
