import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createFilesystemDriver, createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import type { UploadLeaseTimings } from '../../src/oci/upload-lease';
import { content, getRaw, randomBlob, repoName, sessionWith } from './helpers';
import type request from 'supertest';
import { assertOciError, pathOf, rawRequest, startRegistry, testConfig, withQuery, type TestRegistry } from './server';

/**
 * Two requests on one upload session at once (two clients, or a retry racing the original) once
 * stored bytes that no single request hashed. On these drivers the second request now waits for
 * the first and is refused (upload-lease.ts): what is stored, hashed and committed is always the
 * bytes of one request after another, whichever running hash the commit continues.
 */
const TIMINGS: UploadLeaseTimings = { ttlMs: 3_000, renewMs: 200, fenceMs: 1_000, waitMs: 300, pollMs: 50 };

const dirs: string[] = [];
after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const drivers: [string, () => Promise<StorageDriver>][] = [
  ['memory', async () => createMemoryDriver()],
  [
    'filesystem',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'berth-hash-race-'));
      dirs.push(dir);
      return createFilesystemDriver({ rootDirectory: dir });
    },
  ],
];

for (const hashstate of ['on', 'off'] as const) {
  for (const [label, makeDriver] of drivers) {
    describe(`concurrent requests on one upload session (${label} driver, hashstate ${hashstate})`, () => {
      let reg: TestRegistry;
      const start = async () => (reg = await startRegistry({ driver: await makeDriver(), config: testConfig({ storage: { uploads: { hashstate, hashstateminsize: 0 } } }), deps: { uploadLeaseTimings: TIMINGS } }));
      after(async () => reg?.close());

      const session = (name: string, prefix: Buffer): Promise<string> => sessionWith(reg.r(), name, prefix);

      const storedSize = async (location: string) => Number(String((await reg.r().get(pathOf(location)).expect(204)).headers.range).split('-')[1]) + 1;

      async function until(check: () => Promise<boolean>): Promise<void> {
        for (let i = 0; !(await check()); i++) {
          assert.ok(i < 200, 'timed out');
          await new Promise((r) => setTimeout(r, 25));
        }
      }

      /**
       * `method` (a PATCH or a PUT with `digest`) whose body is cut in two, with a whole PATCH of
       * `patched` sent between the halves: refused, since the interrupted request holds the session.
       */
      async function interrupted(method: 'PATCH' | 'PUT', location: string, parts: Buffer[], digest?: string) {
        const [first, patched, second] = parts;
        const before = await storedSize(location);
        let refused: request.Response | undefined;
        async function* body() {
          yield first;
          await until(async () => (await storedSize(location)) === before + first.length);
          refused = await reg.r().patch(pathOf(location)).set('Content-Type', 'application/octet-stream').send(patched);
          yield second;
        }
        const res = await rawRequest(reg.url, {
          method,
          path: pathOf(digest ? withQuery(location, 'digest', digest) : location),
          headers: { 'content-type': 'application/octet-stream' },
          chunks: body(),
        });
        assertOciError(refused!, 416, ['BLOB_UPLOAD_INVALID']);
        return res;
      }

      /** A session holding `prefix`, and the parts for interrupted(); what it streams, and what the refused PATCH would have added. */
      async function race(name: string) {
        const [prefix, first, patched, second] = [300_000, 200_000, 250_000, 150_000].map((n) => randomBlob(n).data);
        const location = await session(name, prefix);
        const interleaved = Buffer.concat([prefix, first, patched, second]);
        const streamed = Buffer.concat([prefix, first, second]);
        return { location, parts: [first, patched, second], interleaved, streamed };
      }

      it('a PUT with a body racing a PATCH: the PATCH is refused, the digest of what the PUT streamed accepted and served', async () => {
        await start();
        const name = repoName();
        const { location, parts, streamed } = await race(name);
        const digest = content(streamed).digest;
        const res = await interrupted('PUT', location, parts, digest);
        assert.equal(res.status, 201, res.body.toString());
        const got = await getRaw(reg.r(), `/v2/${name}/blobs/${digest}`).expect(200);
        assert.ok(Buffer.compare(got.body as Buffer, streamed) === 0);
      });

      it('a PUT with a body racing a PATCH: the digest with the refused PATCH among its bytes is refused', async () => {
        const name = repoName();
        const { location, parts, interleaved } = await race(name);
        const digest = content(interleaved).digest;
        assertOciError(await interrupted('PUT', location, parts, digest), 400, ['DIGEST_INVALID']);
        await getRaw(reg.r(), `/v2/${name}/blobs/${digest}`).expect(404);
      });

      it('two PATCHes racing, then a PUT: the second PATCH is refused; the digest of the first PATCH 201, with the second among it 400', async () => {
        for (const right of [true, false]) {
          const name = repoName();
          const { location, parts, interleaved, streamed } = await race(name);
          assert.equal((await interrupted('PATCH', location, parts)).status, 202);
          const digest = content(right ? streamed : interleaved).digest;
          const res = await reg.r().put(pathOf(withQuery(location, 'digest', digest))).set('Content-Length', '0');
          if (!right) {
            assertOciError(res, 400, ['DIGEST_INVALID']);
            continue;
          }
          assert.equal(res.status, 201, res.text);
          const got = await getRaw(reg.r(), `/v2/${name}/blobs/${digest}`).expect(200);
          assert.ok(Buffer.compare(got.body as Buffer, streamed) === 0);
        }
      });
    });
  }
}
