import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { sendJson, startFake, type FakeServer } from './fake-upstream';

/**
 * A fake upstream serving in-memory blobs of one repository anonymously, whose sending the test
 * scripts per blob: hold it after some bytes until released, cut the connection after some bytes,
 * or send bytes that do not match the digest. The blobs are small (a few MiB): the test's memory,
 * not the registry's.
 */

export interface ScriptedBlob {
  data: Buffer;
  digest: string;
  /** Stop sending after this many bytes until `release()` (the connection stays open). */
  holdAfter?: number;
  /** Cut the connection after this many bytes (flushed first). */
  cutAfter?: number;
  /** Send the bytes with one of them changed: the digest will not match. */
  corrupt?: boolean;
  /** Declare no size (no Content-Length: chunked). */
  chunked?: boolean;
  /** Resolves once the sending reached `holdAfter`. */
  held: Promise<void>;
  release(): void;
}

export interface ScriptedUpstream extends FakeServer {
  add(size: number, script?: Pick<ScriptedBlob, 'holdAfter' | 'cutAfter' | 'corrupt' | 'chunked'>): ScriptedBlob;
  /** The upstream's blob GETs of `blob` so far (with the Range header each had). */
  gets(blob: ScriptedBlob): { range: string | undefined }[];
}

export async function startScriptedUpstream(repository: string): Promise<ScriptedUpstream> {
  const blobs = new Map<string, ScriptedBlob>();
  const path = new RegExp(`^/v2/${repository}/blobs/(sha256:[0-9a-f]{64})$`);
  const server = await startFake((req, res) => {
    if (req.url === '/v2/') return sendJson(res, 200, {});
    const m = path.exec(req.url ?? '');
    const blob = m ? blobs.get(m[1]) : undefined;
    if (!blob) return sendJson(res, 404, { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] });
    const length = blob.chunked ? {} : { 'content-length': blob.data.length };
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...length, 'docker-content-digest': blob.digest });
    if (req.method === 'HEAD') return void res.end();
    void send(blob, res).catch(() => res.destroy());
  });
  return Object.assign(server, {
    add(size: number, script: Pick<ScriptedBlob, 'holdAfter' | 'cutAfter' | 'corrupt' | 'chunked'> = {}): ScriptedBlob {
      const data = randomBytes(size);
      let release!: () => void;
      let reached!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const held = new Promise<void>((resolve) => (reached = resolve));
      const blob = { data, digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, ...script, held, release, released, reached };
      blobs.set(blob.digest, blob);
      return blob;
    },
    gets: (blob: ScriptedBlob) =>
      server.requests.filter((r) => r.method === 'GET' && r.url.endsWith(blob.digest)).map((r) => ({ range: r.headers.range })),
  });
}

type Internal = ScriptedBlob & { released: Promise<void>; reached: () => void };

const CHUNK = 64 * 1024;

async function send(blob: ScriptedBlob, res: http.ServerResponse): Promise<void> {
  const { data, holdAfter, cutAfter, corrupt } = blob as Internal;
  let at = 0;
  while (at < data.length) {
    if (at === holdAfter) {
      (blob as Internal).reached();
      await (blob as Internal).released;
    }
    if (at === cutAfter) {
      // Flushed first, so the mirror has the bytes before the connection drops.
      await new Promise((r) => setTimeout(r, 100));
      res.socket?.destroy();
      return;
    }
    const stops = [data.length, at + CHUNK, holdAfter, cutAfter].filter((n): n is number => n !== undefined && n > at);
    const end = Math.min(...stops);
    let chunk = data.subarray(at, end);
    if (corrupt && at === 0) {
      chunk = Buffer.from(chunk);
      chunk[0] ^= 0xff;
    }
    if (!res.write(chunk)) await once(res, 'drain');
    at = end;
  }
  res.end();
}
