import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import request from 'supertest';
import { createApp, type AppDeps, type BerthApp } from '../../src/app';
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema';
import { createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { TEST_QUIET_PERIOD } from '../helpers/berth-process';

export const SECRET = 'a-test-secret-of-32-characters!!';

/** Shortens a collection's quiet period as the spawned processes do (test/helpers/berth-process.ts). */
export function testConfig(input: ConfigInput = {}): Config {
  const storage = input.storage ?? {};
  const maintenance = storage.maintenance ?? {};
  const gc = { quietperiod: TEST_QUIET_PERIOD, ...maintenance.gc };
  return configSchema.parse({ ...input, http: { secret: SECRET, ...input.http }, storage: { ...storage, maintenance: { ...maintenance, gc } } });
}

export interface TestRegistry {
  app: BerthApp;
  /** http://127.0.0.1:<port> */
  url: string;
  /** supertest bound to this registry's URL. */
  r(): request.Agent;
  close(): Promise<void>;
}

/** One Berth app behind a real server on 127.0.0.1:0, so Location headers are absolute and usable. */
export async function startRegistry(
  opts: { config?: Config; driver?: StorageDriver; deps?: Omit<Partial<AppDeps>, 'config' | 'driver'> } = {},
): Promise<TestRegistry> {
  // On a store of its own, the registry caches reads for an hour, so that a write that forgets to
  // update the cache fails the suites; a store the test shares or edits behind its back is re-read.
  const config = opts.config ?? (opts.driver ? testConfig() : testConfig({ storage: { cache: { ttl: '1h' } } }));
  const app = createApp({ ...opts.deps, config, driver: opts.driver ?? createMemoryDriver() });
  const server = http.createServer(app.handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    app,
    url,
    r: () => request.agent(url),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
  };
}

/**
 * One registry for a whole describe(): started in its before(), closed in its after(). Call it in the
 * describe's body; the handle answers only once before() has run.
 */
export function useRegistry(opts: Parameters<typeof startRegistry>[0] = {}): TestRegistry {
  let current: TestRegistry | undefined;
  const live = (): TestRegistry => {
    if (!current) throw new Error('the suite registry starts in before()');
    return current;
  };
  before(async () => {
    current = await startRegistry(opts);
  });
  after(async () => current?.close());
  return {
    get app() {
      return live().app;
    },
    get url() {
      return live().url;
    },
    r: () => live().r(),
    close: () => live().close(),
  };
}

/** The path and query of a Location (absolute or relative), to replay it through supertest. */
export function pathOf(location: string | undefined): string {
  assert.ok(location, 'expected a Location header');
  const u = new URL(location, 'http://relative.invalid');
  return u.pathname + u.search;
}

/** Adds or replaces one query parameter of a URL, keeping the others (e.g. `_state`). */
export function withQuery(location: string, key: string, value: string): string {
  const u = new URL(location, 'http://relative.invalid');
  u.searchParams.set(key, value);
  return /^https?:/.test(location) ? u.toString() : u.pathname + u.search;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request with full control over the bytes: the path is sent unnormalised (`..`, `//`), and
 * several chunks without Content-Length go out with Transfer-Encoding: chunked. A server that
 * answers before reading the whole body is fine: write errors after the response are ignored.
 * `chunks` may be an async iterable, to do something (another request) between two of them.
 */
export function rawRequest(
  url: string,
  opts: { method: string; path: string; headers?: Record<string, string>; chunks?: Iterable<Uint8Array> | AsyncIterable<Uint8Array> },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    let answered = false;
    const req = http.request({ host: u.hostname, port: u.port, method: opts.method, path: opts.path, headers: opts.headers, agent: false });
    req.on('response', (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const send = async (): Promise<void> => {
      for await (const chunk of opts.chunks ?? []) {
        if (answered) break;
        if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        else await new Promise((r) => setImmediate(r));
      }
      req.end();
    };
    send().catch((err: Error) => req.destroy(err));
  });
}

interface ErrorLike {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  text?: string;
}

/**
 * The spec's error shape: `{"errors":[{code,message,detail}]}` as JSON, with the API version header.
 * Returns the first error's code after checking it is one of `codes`.
 */
export function assertOciError(res: ErrorLike | RawResponse, status: number | number[], codes: string[]): string {
  const statuses = Array.isArray(status) ? status : [status];
  const raw = 'text' in res && typeof res.text === 'string' ? res.text : Buffer.isBuffer(res.body) ? res.body.toString('utf8') : '';
  assert.ok(statuses.includes(res.status), `expected status ${statuses.join('|')}, got ${res.status}: ${raw.slice(0, 300)}`);
  assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(raw) as { errors?: Array<{ code?: unknown; message?: unknown }> };
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `expected an errors array: ${raw.slice(0, 300)}`);
  for (const e of body.errors) assert.match(String(e.code), /^[A-Z_]+$/);
  const code = String(body.errors[0].code);
  assert.ok(codes.includes(code), `expected code ${codes.join('|')}, got ${code}: ${raw.slice(0, 300)}`);
  return code;
}

/** supertest parses JSON only for application/json; manifests and blobs come back as raw bytes. */
export function binary(res: http.IncomingMessage, cb: (err: Error | null, body: Buffer) => void): void {
  const parts: Buffer[] = [];
  res.on('data', (c: Buffer) => parts.push(c));
  res.on('end', () => cb(null, Buffer.concat(parts)));
  res.on('error', (err) => cb(err, Buffer.alloc(0)));
}
