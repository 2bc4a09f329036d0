import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createFilesystemDriver, createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { content, getRaw, randomBlob, repoName } from './helpers';
import { assertOciError, pathOf, rawRequest, startRegistry, testConfig, withQuery, type TestRegistry } from './server';

/**
 * Two requests appending to one upload session at once (two clients, or a retry racing the
 * original) leave stored bytes that no single request hashed. The digest check must then judge the
 * stored bytes: a running hash that is not for exactly them is never the answer, whether it
 * would refuse the right digest or accept a wrong one.
 */
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
      const start = async () => (reg = await startRegistry({ driver: await makeDriver(), config: testConfig({ storage: { uploads: { hashstate, hashstateminsize: 0 } } }) }));
      after(async () => reg?.close());

      async function session(name: string, prefix: Buffer): Promise<string> {
        const post = await reg.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
        const res = await reg
          .r()
          .patch(pathOf(post.headers.location))
          .set('Content-Type', 'application/octet-stream')
          .set('Content-Range', `0-${prefix.length - 1}`)
          .send(prefix)
          .expect(202);
        return res.headers.location;
      }

      const storedSize = async (location: string) => Number(String((await reg.r().get(pathOf(location)).expect(204)).headers.range).split('-')[1]) + 1;

      async function until(check: () => Promise<boolean>): Promise<void> {
        for (let i = 0; !(await check()); i++) {
          assert.ok(i < 200, 'timed out');
          await new Promise((r) => setTimeout(r, 25));
        }
      }

      /**
       * `method` (a PATCH or a PUT with `digest`) whose body is cut in two, with a whole PATCH of
       * `patched` appended between the halves: the upload then stores prefix, first half,
       * `patched`, second half, while the interrupted request itself streamed the halves only.
       */
      async function interrupted(method: 'PATCH' | 'PUT', location: string, parts: Buffer[], digest?: string) {
        const [first, patched, second] = parts;
        const before = await storedSize(location);
        async function* body() {
          yield first;
          await until(async () => (await storedSize(location)) === before + first.length);
          await reg.r().patch(pathOf(location)).set('Content-Type', 'application/octet-stream').send(patched).expect(202);
          yield second;
        }
        return rawRequest(reg.url, {
          method,
          path: pathOf(digest ? withQuery(location, 'digest', digest) : location),
          headers: { 'content-type': 'application/octet-stream' },
          chunks: body(),
        });
      }

      /** A session holding `prefix`, and the parts for interrupted(); what is stored after it, and what it streamed. */
      async function race(name: string) {
        const [prefix, first, patched, second] = [300_000, 200_000, 250_000, 150_000].map((n) => randomBlob(n).data);
        const location = await session(name, prefix);
        const stored = Buffer.concat([prefix, first, patched, second]);
        const streamed = Buffer.concat([prefix, first, second]);
        return { location, parts: [first, patched, second], stored, streamed };
      }

      it('a PUT with a body racing a PATCH: the digest of the stored bytes is accepted, and those bytes are served', async () => {
        await start();
        const name = repoName();
        const { location, parts, stored } = await race(name);
        const digest = content(stored).digest;
        const res = await interrupted('PUT', location, parts, digest);
        assert.equal(res.status, 201, res.body.toString());
        const got = await getRaw(reg.r(), `/v2/${name}/blobs/${digest}`).expect(200);
        assert.ok(Buffer.compare(got.body as Buffer, stored) === 0);
      });

      it('a PUT with a body racing a PATCH: the digest of what the PUT streamed alone is refused', async () => {
        const name = repoName();
        const { location, parts, streamed } = await race(name);
        const digest = content(streamed).digest;
        assertOciError(await interrupted('PUT', location, parts, digest), 400, ['DIGEST_INVALID']);
        await getRaw(reg.r(), `/v2/${name}/blobs/${digest}`).expect(404);
      });

      it('two PATCHes racing, then a PUT: the digest of the stored bytes 201, that of either PATCH alone 400', async () => {
        for (const right of [true, false]) {
          const name = repoName();
          const { location, parts, stored, streamed } = await race(name);
          assert.equal((await interrupted('PATCH', location, parts)).status, 202);
          const digest = content(right ? stored : streamed).digest;
          const res = await reg.r().put(pathOf(withQuery(location, 'digest', digest))).set('Content-Length', '0');
          if (!right) {
            assertOciError(res, 400, ['DIGEST_INVALID']);
            continue;
          }
          assert.equal(res.status, 201, res.text);
          const got = await getRaw(reg.r(), `/v2/${name}/blobs/${digest}`).expect(200);
          assert.ok(Buffer.compare(got.body as Buffer, stored) === 0);
        }
      });
    });
  }
}
