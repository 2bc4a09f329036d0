import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import { content, getRaw, pushBlob, repoName, type Content } from './helpers';
import { rawRequest, startRegistry, type TestRegistry } from './server';

const CHUNK = 64 * 1024;

/** Descriptors of this process open on files below `dir`. */
async function openFilesBelow(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(`${dir}/`)) found.push(target);
  }
  return found;
}

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`never: ${what}`);
}

/**
 * Pulls from the filesystem driver, whose reader copies into the response through a few reused
 * buffers (the hot path of a pull): every byte, every range, concurrent pulls sharing the buffers,
 * and a client that leaves mid-body.
 */
describe('blob pulls from the filesystem driver', () => {
  let dir: string;
  let reg: TestRegistry;
  const name = repoName('pulls');
  let a: Content;
  let b: Content;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-pulls-'));
    // Small chunks, so that a few hundred KiB already go through many buffer reuses.
    reg = await startRegistry({ driver: createFilesystemDriver({ rootDirectory: dir, readChunkSize: CHUNK }) });
    a = content(randomBytes(7 * CHUNK + 123));
    b = content(randomBytes(5 * CHUNK - 7));
    await pushBlob(reg.r(), name, a);
    await pushBlob(reg.r(), name, b);
  });
  after(async () => {
    await reg.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('GET sends every byte, and ranges across chunk boundaries give exactly those bytes', async () => {
    const whole = await getRaw(reg.r(), `/v2/${name}/blobs/${a.digest}`).expect(200);
    assert.ok((whole.body as Buffer).equals(a.data));
    assert.equal(whole.headers['content-length'], String(a.size));
    for (const [start, end] of [
      [0, 0],
      [CHUNK - 1, CHUNK],
      [CHUNK, 3 * CHUNK + 17],
      [a.size - 1, a.size - 1],
    ]) {
      const res = await getRaw(reg.r(), `/v2/${name}/blobs/${a.digest}`).set('Range', `bytes=${start}-${end}`).expect(206);
      assert.ok((res.body as Buffer).equals(a.data.subarray(start, end + 1)), `bytes ${start}-${end}`);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${a.size}`);
      assert.equal(res.headers['content-length'], String(end - start + 1));
    }
    const suffix = await getRaw(reg.r(), `/v2/${name}/blobs/${a.digest}`).set('Range', `bytes=-${CHUNK + 1}`).expect(206);
    assert.ok((suffix.body as Buffer).equals(a.data.subarray(a.size - CHUNK - 1)));
    await reg.r().get(`/v2/${name}/blobs/${a.digest}`).set('Range', `bytes=${a.size}-`).expect(416);
    const head = await reg.r().head(`/v2/${name}/blobs/${a.digest}`).expect(200);
    assert.equal(head.headers['content-length'], String(a.size));
    assert.deepEqual(await openFilesBelow(dir), []);
  });

  it('concurrent pulls of different blobs each get their own bytes', async () => {
    const pulls = Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b));
    const bodies = await Promise.all(
      pulls.map((c) => rawRequest(reg.url, { method: 'GET', path: `/v2/${name}/blobs/${c.digest}`, headers: { Connection: 'close' } })),
    );
    bodies.forEach((res, i) => {
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(pulls[i].data), `pull ${i}`);
    });
  });

  it('a client that leaves mid-body releases the file, and the registry serves on', async () => {
    // Larger than what loopback socket buffers hold, so the server is still sending when we leave.
    const big = content(randomBytes(48 * 1024 * 1024));
    await pushBlob(reg.r(), name, big);
    const u = new URL(reg.url);
    const socket = net.connect(Number(u.port), u.hostname);
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > 4 * CHUNK) {
          socket.pause();
          resolve();
        }
      });
      socket.write(`GET /v2/${name}/blobs/${big.digest} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
    });
    await eventually('the server has opened the blob', async () => (await openFilesBelow(dir)).length > 0);
    socket.destroy();
    await eventually('the server closes the blob after the client left', async () => (await openFilesBelow(dir)).length === 0);
    assert.ok(received < big.size);
    const again = await getRaw(reg.r(), `/v2/${name}/blobs/${b.digest}`).expect(200);
    assert.ok((again.body as Buffer).equals(b.data));
  });
});
