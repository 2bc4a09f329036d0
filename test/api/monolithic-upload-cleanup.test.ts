import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import { randomBlob, repoName, unknownDigest } from './helpers';
import { assertOciError, startRegistry, type TestRegistry } from './server';

/**
 * A single-request upload (`POST ?digest=`) that fails leaves the client without a session id, so
 * nothing but the registry can remove what it wrote: no `_uploads/<uuid>` may outlive the request.
 */
describe('failed single-request uploads leave no session behind', () => {
  let root: string;
  let reg: TestRegistry;
  let failWrites = false;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'berth-mono-cleanup-'));
    const fs = createFilesystemDriver({ rootDirectory: root });
    // A storage error while the body is written; every other call behaves.
    const driver = new Proxy(fs, {
      get(target, prop, receiver) {
        if (prop === 'writer' && failWrites) return () => Promise.reject(new Error('EIO: disk on fire'));
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value.bind(target) as unknown) : value;
      },
    });
    reg = await startRegistry({ driver });
  });
  after(async () => {
    await reg.close();
    await rm(root, { recursive: true, force: true });
  });

  async function sessionsLeft(name: string): Promise<string[]> {
    try {
      return await readdir(path.join(root, 'docker/registry/v2/repositories', name, '_uploads'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Polls until the repository has no upload session, for at most `ms`; returns what is left. */
  async function settled(name: string, ms = 3000): Promise<string[]> {
    const deadline = Date.now() + ms;
    let left = await sessionsLeft(name);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      left = await sessionsLeft(name);
    }
    return left;
  }

  const post = (name: string, digest: string) => reg.r().post(`/v2/${name}/blobs/uploads/?digest=${digest}`).set('Content-Type', 'application/octet-stream');

  it('the control: a successful one leaves none', async () => {
    const name = repoName();
    const blob = randomBlob(100);
    await post(name, blob.digest).send(blob.data).expect(201);
    assert.deepEqual(await sessionsLeft(name), []);
  });

  it('digest mismatch', async () => {
    const name = repoName();
    assertOciError(await post(name, unknownDigest()).send(randomBlob(100).data), 400, ['DIGEST_INVALID']);
    assert.deepEqual(await sessionsLeft(name), []);
  });

  it('a Content-Range that disagrees with the Content-Length', async () => {
    const name = repoName();
    const blob = randomBlob(100);
    assertOciError(await post(name, blob.digest).set('Content-Range', '0-49').send(blob.data), [400, 416], ['SIZE_INVALID', 'BLOB_UPLOAD_INVALID']);
    assert.deepEqual(await sessionsLeft(name), []);
  });

  it('a malformed or misplaced Content-Range', async () => {
    for (const range of ['garbage', '5-104']) {
      const name = repoName();
      const blob = randomBlob(100);
      const res = await post(name, blob.digest).set('Content-Range', range).send(blob.data);
      assertOciError(res, 416, ['BLOB_UPLOAD_INVALID']);
      assert.equal(res.headers.location, undefined, 'no Location to a session that is gone');
      assert.deepEqual(await sessionsLeft(name), [], range);
    }
  });

  it('a storage error while writing', async () => {
    const name = repoName();
    const blob = randomBlob(100);
    failWrites = true;
    try {
      assertOciError(await post(name, blob.digest).send(blob.data), 500, ['UNKNOWN']);
    } finally {
      failWrites = false;
    }
    assert.deepEqual(await sessionsLeft(name), []);
  });

  for (const how of ['aborts the socket mid-body', 'sends a short body and half-closes'] as const) {
    it(`a client that ${how}`, async () => {
      const name = repoName();
      const blob = randomBlob(64 * 1024);
      const socket = net.connect(Number(new URL(reg.url).port), '127.0.0.1');
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write(
        `POST /v2/${name}/blobs/uploads/?digest=${blob.digest} HTTP/1.1\r\n` +
          `Host: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${blob.size}\r\n\r\n`,
      );
      socket.write(blob.data.subarray(0, blob.size / 2));
      // The session exists once the server has started writing the body.
      const deadline = Date.now() + 3000;
      while ((await sessionsLeft(name)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal((await sessionsLeft(name)).length, 1, 'the upload started');
      if (how === 'aborts the socket mid-body') socket.destroy();
      else socket.end();
      assert.deepEqual(await settled(name), [], 'the partial upload was removed once the server handled the abort');
      socket.destroy();
      await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(404);
    });
  }
});
