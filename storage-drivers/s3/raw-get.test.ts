import { S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { readAll } from '../testsuite/helpers';
import { ObjectDownloads } from './object-download';

const BODY = 'hello world';

/**
 * ObjectDownloads against a stand-in S3 that answers each GET with a canned head: what its own
 * parser cannot read plainly must come back as null (the GET is then the SDK's), never as a body
 * whose end it guessed.
 */
describe('S3 downloads: response heads', () => {
  let server: Server;
  let endpoint: string;
  let answer: (socket: Socket) => void = () => undefined;
  const sockets = new Set<Socket>();

  before(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      // Each request comes in one chunk: each chunk is answered.
      socket.on('data', () => answer(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  function downloads(maxConnections?: number): ObjectDownloads {
    const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    return new ObjectDownloads(client, 'bucket', 5_000, 5_000, maxConnections);
  }

  const cases: [string, string][] = [
    ['chunked', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n${BODY}\r\n0\r\n\r\n`],
    ['chunked beside a Content-Length', `HTTP/1.1 200 OK\r\nContent-Length: 11\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n${BODY}\r\n0\r\n\r\n`],
    ['Transfer-Encoding before the Content-Length', `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nContent-Length: 11\r\n\r\nb\r\n${BODY}\r\n0\r\n\r\n`],
    ['an interim 100 before the answer', `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n${BODY}`],
    ['a Content-Length folded onto another header', `HTTP/1.1 200 OK\r\nX-Amz-Meta-A: b\r\n Content-Length: 3\r\nContent-Length: 11\r\n\r\n${BODY}`],
    ['a folded Content-Length value', `HTTP/1.1 200 OK\r\nContent-Length:\r\n 11\r\n\r\n${BODY}`],
    ['two Content-Lengths', `HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Length: 3\r\n\r\n${BODY}`],
    ['a space before the colon', `HTTP/1.1 200 OK\r\nContent-Length : 3\r\nContent-Length: 11\r\n\r\n${BODY}`],
    ['a Content-Length in hex', `HTTP/1.1 200 OK\r\nContent-Length: 0xb\r\n\r\n${BODY}`],
    ['a signed Content-Length', `HTTP/1.1 200 OK\r\nContent-Length: +11\r\n\r\n${BODY}`],
    ['a Content-Length past 2^53', `HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n${BODY}`],
    ['a list as Content-Length', `HTTP/1.1 200 OK\r\nContent-Length: 11, 11\r\n\r\n${BODY}`],
  ];
  for (const [what, head] of cases) {
    it(`${what}: left to the SDK`, async () => {
      answer = (socket) => socket.end(head);
      assert.equal(await downloads().open('key', undefined), null);
    });
  }

  it('HTTP/1.0 without keep-alive: the body is read to the close, and the connection not kept', async () => {
    const connections = new Set<Socket>();
    answer = (socket) => {
      connections.add(socket);
      socket.end(`HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\n${BODY}`);
    };
    const d = downloads();
    for (let i = 0; i < 2; i++) {
      const got = await d.open('key', undefined);
      assert.ok(got);
      assert.equal((await readAll(got.body)).toString(), BODY);
    }
    assert.equal(connections.size, 2);
  });

  it('Connection: keep-alive, close is a close; Connection: keep-alive keeps it', async () => {
    for (const [value, expected] of [
      ['keep-alive, close', 2],
      ['keep-alive', 1],
    ] as const) {
      const connections = new Set<Socket>();
      answer = (socket) => {
        connections.add(socket);
        socket.write(`HTTP/1.1 200 OK\r\nConnection: ${value}\r\nContent-Length: 11\r\n\r\n${BODY}`);
      };
      const d = downloads();
      for (let i = 0; i < 2; i++) {
        const got = await d.open('key', undefined);
        assert.ok(got);
        assert.equal((await readAll(got.body)).toString(), BODY);
      }
      assert.equal(connections.size, expected, value);
    }
  });

  it('beyond its connection cap a download is left to the SDK, and gets one again once a body is read', async () => {
    // Heads at once, bodies held back: each download keeps its connection.
    const held: Socket[] = [];
    answer = (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n`);
      if (!held.includes(socket)) held.push(socket);
    };
    const d = downloads(2);
    const first = await d.open('key', undefined);
    const second = await d.open('key', undefined);
    assert.ok(first && second);
    assert.equal(await d.open('key', undefined), null);
    assert.equal(held.length, 2, 'no third connection');
    held[0].write(BODY);
    assert.equal((await readAll(first.body)).toString(), BODY);
    // The first connection, idle again, serves the next.
    const third = await d.open('key', undefined);
    assert.ok(third);
    assert.equal(held.length, 2, 'no third connection');
    second.body.destroy();
    third.body.destroy();
  });
});
