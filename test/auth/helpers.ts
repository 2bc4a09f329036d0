import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import { createApp, type BerthApp } from '../../src/app';
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema';
import { createLogger } from '../../src/logger';
import { createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';

export const SECRET = 'a-test-secret-of-32-characters!!';

/** Users of every auth test; one hash per bcrypt prefix. */
export const USERS = { alice: 'alice-secret-pw', bob: 'bob-secret-pw', carol: 'carol-secret-pw' } as const;

/** Writes an htpasswd file: alice as $2y$ (Apache), bob as $2a$, carol as $2b$. */
export async function writeHtpasswd(file: string, cost = 4): Promise<void> {
  const line = async (user: keyof typeof USERS, prefix: string) => `${user}:${prefix}${(await bcrypt.hash(USERS[user], cost)).slice(4)}`;
  await writeFile(file, [await line('alice', '$2y$'), await line('bob', '$2a$'), await line('carol', '$2b$'), ''].join('\n'));
}

/** One public repository (anonymous pull) and one private one (alice only); bob may push to public. */
export const ACCESS_CONTROL = {
  groups: { writers: { users: ['bob'] } },
  repositories: {
    'public/**': { anonymouspolicy: ['pull'], policies: [{ users: ['alice'], groups: ['writers'], actions: ['pull', 'push', 'delete'] }] },
    'private/**': { policies: [{ users: ['alice'], actions: ['pull', 'push', 'delete'] }] },
    'shared/*': { defaultpolicy: ['pull'] },
  },
  catalog: { users: ['alice'] },
} satisfies NonNullable<ConfigInput['auth']>['accesscontrol'];

export interface AuthFixture {
  dir: string;
  htpasswd: string;
  cleanup(): Promise<void>;
}

export async function authFixture(): Promise<AuthFixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-auth-'));
  const htpasswd = path.join(dir, 'htpasswd');
  await writeHtpasswd(htpasswd);
  return { dir, htpasswd, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function authConfig(auth: NonNullable<ConfigInput['auth']>, extra: ConfigInput = {}): Config {
  return configSchema.parse({ storage: { inmemory: {} }, ...extra, auth, http: { secret: SECRET, ...extra.http }, log: { level: 'debug', ...extra.log } });
}

export interface AuthRegistry {
  app: BerthApp;
  url: string;
  /** Every log line so far, as written (after redaction). */
  logs(): string;
  close(): Promise<void>;
}

/** A Berth app on `driver` (a new memory driver by default) behind a real server on 127.0.0.1:0, logging into a buffer. */
export async function startAuthRegistry(config: Config, driver: StorageDriver = createMemoryDriver()): Promise<AuthRegistry> {
  let logs = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs += chunk.toString('utf8');
      cb();
    },
  });
  const app = createApp({ config, driver, logger: createLogger(config.log, sink) });
  const server = http.createServer(app.handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    app,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    logs: () => logs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
  };
}

export function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

/** GET <url>/auth/token with the given scopes, optionally as a user; resolves with the JSON and status. */
export async function getToken(
  url: string,
  opts: { user?: string; password?: string; scopes?: string[]; service?: string; offline?: boolean } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const q = new URLSearchParams();
  q.set('service', opts.service ?? 'berth');
  for (const s of opts.scopes ?? []) q.append('scope', s);
  if (opts.offline) q.set('offline_token', 'true');
  const headers: Record<string, string> = {};
  if (opts.user !== undefined) headers.authorization = basic(opts.user, opts.password ?? USERS[opts.user as keyof typeof USERS]);
  const res = await fetch(`${url}/auth/token?${q.toString()}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** The token from a GET that must succeed. */
export async function tokenFor(url: string, user: string | undefined, scopes: string[]): Promise<string> {
  const r = await getToken(url, { user, scopes });
  if (r.status !== 200) throw new Error(`token request failed: ${r.status} ${JSON.stringify(r.body)}`);
  return String(r.body.token);
}

/** Decodes a JWT's payload without verifying it. */
export function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function header(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Pushes a tiny blob and manifest to `repo:tag` with the given Authorization, returning the manifest digest. */
export async function pushImage(url: string, repo: string, tag: string, authorization: string | undefined): Promise<{ status: number; blob: string }> {
  const { createHash } = await import('node:crypto');
  const h = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
  const auth: Record<string, string> = authorization ? { authorization } : {};
  const config = Buffer.from('{}');
  const layer = Buffer.from(`layer of ${repo}:${tag}`);
  for (const blob of [config, layer]) {
    const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${h(blob)}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: blob,
    });
    await res.arrayBuffer();
    if (res.status !== 201) return { status: res.status, blob: h(layer) };
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: h(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: h(layer), size: layer.length }],
    }),
  );
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  await res.arrayBuffer();
  return { status: res.status, blob: h(layer) };
}
