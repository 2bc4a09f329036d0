import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type request from 'supertest';
import type { FileWriter, StorageDriver } from '../../storage-drivers/types';
import { binary, pathOf, withQuery } from './server';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/** JSON bodies the API answers with, for reading supertest's untyped `body`. */
export interface TagList {
  name: string;
  tags: string[];
}
export interface Catalog {
  repositories: string[];
}
export interface ErrorList {
  errors: { code: string; message: string; detail?: Record<string, unknown> }[];
}

export interface Content {
  data: Buffer;
  digest: string;
  size: number;
}

export function digestOf(data: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export function content(data: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): Content {
  return { data, digest: digestOf(data, algorithm), size: data.length };
}

export function randomBlob(size = 1024, algorithm: 'sha256' | 'sha512' = 'sha256'): Content {
  return content(randomBytes(size), algorithm);
}

/** A digest of the right shape that no test content has. */
export function unknownDigest(): string {
  return digestOf(randomBytes(32));
}

/** A unique, valid repository name per test, so tests sharing one registry never collide. */
let counter = 0;
export function repoName(prefix = 'repo'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

export function descriptor(c: Content, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: c.digest, size: c.size, ...extra };
}

/**
 * Serialises with deliberately non-canonical whitespace (3-space indent, trailing newlines), so a
 * registry that re-encodes the JSON fails byte-exact comparisons.
 */
function serialise(value: unknown): Content {
  return content(Buffer.from(`${JSON.stringify(value, null, 3)}\n\n`));
}

export interface Manifest extends Content {
  mediaType: string;
  json: Record<string, unknown>;
}

function manifest(mediaType: string, json: Record<string, unknown>): Manifest {
  return { ...serialise(json), mediaType, json };
}

export interface OciManifestOptions {
  config: Descriptor;
  layers?: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** Leave out the `mediaType` field (as umoci does). */
  omitMediaType?: boolean;
}

export function ociManifest(o: OciManifestOptions): Manifest {
  const json: Record<string, unknown> = { schemaVersion: 2 };
  if (!o.omitMediaType) json.mediaType = MT.ociManifest;
  if (o.artifactType) json.artifactType = o.artifactType;
  json.config = o.config;
  json.layers = o.layers ?? [];
  if (o.subject) json.subject = o.subject;
  if (o.annotations) json.annotations = o.annotations;
  return manifest(MT.ociManifest, json);
}

export function ociIndex(manifests: Descriptor[], extra: { subject?: Descriptor; artifactType?: string; annotations?: Record<string, string> } = {}): Manifest {
  const json: Record<string, unknown> = { schemaVersion: 2, mediaType: MT.ociIndex };
  if (extra.artifactType) json.artifactType = extra.artifactType;
  json.manifests = manifests;
  if (extra.subject) json.subject = extra.subject;
  if (extra.annotations) json.annotations = extra.annotations;
  return manifest(MT.ociIndex, json);
}

export function dockerManifest(config: Descriptor, layers: Descriptor[]): Manifest {
  return manifest(MT.dockerManifest, { schemaVersion: 2, mediaType: MT.dockerManifest, config, layers });
}

export function dockerList(manifests: Descriptor[]): Manifest {
  return manifest(MT.dockerList, { schemaVersion: 2, mediaType: MT.dockerList, manifests });
}

export function manifestDescriptor(m: Manifest, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: m.mediaType, digest: m.digest, size: m.size, ...extra };
}

/** The OCI empty config `{}` (image-spec "Guidance for an Empty Descriptor"). */
export const EMPTY_CONFIG = content(Buffer.from('{}'));

/** POST ?digest= would be shorter, but POST then PUT is what every registry must support. */
export async function pushBlob(agent: request.Agent, name: string, c: Content): Promise<void> {
  const start = await agent.post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
  await agent
    .put(pathOf(withQuery(start.headers.location, 'digest', c.digest)))
    .set('Content-Type', 'application/octet-stream')
    .send(c.data)
    .expect(201);
}

/** A PATCH of `data` at offset `from` of the session at `location`, with its Content-Range. */
export function patchChunk(agent: request.Agent, location: string, from: number, data: Buffer): request.Test {
  return agent
    .patch(pathOf(location))
    .set('Content-Type', 'application/octet-stream')
    .set('Content-Range', `${from}-${from + data.length - 1}`)
    .send(data);
}

/** A new upload session of `name` holding `prefix` (one PATCH); its Location. */
export async function sessionWith(agent: request.Agent, name: string, prefix: Buffer): Promise<string> {
  const post = await agent.post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
  return (await patchChunk(agent, post.headers.location, 0, prefix).expect(202)).headers.location;
}

export function pushManifest(agent: request.Agent, name: string, reference: string, m: Manifest, contentType = m.mediaType): request.Test {
  return sendBytes(agent.put(`/v2/${name}/manifests/${reference}`).set('Content-Type', contentType), m.data);
}

/** superagent re-serialises a Buffer as JSON when the Content-Type is JSON-like; send it verbatim. */
export function sendBytes(test: request.Test, data: Buffer): request.Test {
  return test.serialize((body: unknown) => body as string).send(data);
}

export interface Image {
  config: Content;
  layer: Content;
  manifest: Manifest;
}

/** Pushes a config, one layer and an OCI manifest (tagged when `tag` is given). */
export async function pushImage(agent: request.Agent, name: string, tag?: string, extra: Partial<OciManifestOptions> = {}): Promise<Image> {
  const config = content(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') })));
  const layer = randomBlob(512);
  await pushBlob(agent, name, config);
  await pushBlob(agent, name, layer);
  const m = ociManifest({ config: descriptor(config, MT.ociConfig), layers: [descriptor(layer, MT.ociLayer)], ...extra });
  const res = await pushManifest(agent, name, tag ?? m.digest, m);
  assert.equal(res.status, 201, `manifest push failed: ${res.text}`);
  return { config, layer, manifest: m };
}

/** GET returning the raw body bytes whatever the Content-Type. */
export function getRaw(agent: request.Agent, path: string): request.Test {
  return agent.get(path).buffer(true).parse(binary as unknown as Parameters<request.Test['parse']>[0]);
}

/**
 * Wraps a driver and records, in order, the paths written with putContent and those opened with
 * reader: enough to check what a request wrote in which order, or whether it read data back.
 */
export function recordingDriver(inner: StorageDriver): { driver: StorageDriver; writes: string[]; reads: string[] } {
  const writes: string[] = [];
  const reads: string[] = [];
  const driver: StorageDriver = {
    name: inner.name,
    getContent: (p) => inner.getContent(p),
    putContent: async (p, d, o) => {
      await inner.putContent(p, d, o);
      writes.push(p);
    },
    createExclusive: async (p, d, o) => {
      await inner.createExclusive(p, d, o);
      writes.push(p);
    },
    reader: (p, o) => {
      reads.push(p);
      return inner.reader(p, o);
    },
    writer: (p, o) => inner.writer(p, o),
    stat: (p) => inner.stat(p),
    statFile: (p) => inner.statFile(p),
    list: (p) => inner.list(p),
    walk: (p) => inner.walk(p),
    move: (s, d) => inner.move(s, d),
    delete: (p) => inner.delete(p),
    deleteIf: (p, e) => inner.deleteIf(p, e),
    pruneDirs: (p) => inner.pruneDirs(p),
    redirectUrl: (p, o) => inner.redirectUrl(p, o),
    purgeLeftovers: (t, o) => inner.purgeLeftovers(t, o),
  };
  return { driver, writes, reads };
}

export const INTERNAL_MESSAGE = 'EIO: secret-internal-detail at /srv/berth/private/path';

/**
 * Wraps a driver. Mode 'throw': every method throws a plain Error (not a storage error), as a broken
 * disk or a driver bug would. Mode 'mid-stream': everything works except that readers fail after
 * their first 1000 bytes, when the response headers are already out. `{ errno }`: every method
 * throws the error an fs call would, with that code and a path (for faults no tmpfs can make, as EIO).
 * `{ error }`: every method throws what `error` makes (an S3 client's errors, for outages).
 */
export type FailureMode = 'off' | 'throw' | 'mid-stream' | { errno: string } | { error: () => unknown };

export function throwingDriver(inner: StorageDriver): { driver: StorageDriver; setFailing(mode: FailureMode): void } {
  let mode: FailureMode = 'off';
  const boom = (): unknown =>
    typeof mode !== 'object'
      ? new Error(INTERNAL_MESSAGE)
      : 'error' in mode
        ? mode.error()
        : Object.assign(new Error(`${mode.errno}: ${INTERNAL_MESSAGE}`), { code: mode.errno, errno: -5, syscall: 'open', path: '/srv/berth/private/path' });
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (mode === 'throw' || typeof mode === 'object') throw boom();
    return fn();
  };
  const failingAfter = (source: Readable, limit: number): Readable => {
    let seen = 0;
    const cut = new Transform({
      transform(chunk: Buffer, _enc, done) {
        const room = limit - seen;
        seen += chunk.length;
        if (seen <= limit) return done(null, chunk);
        if (room > 0) this.push(chunk.subarray(0, room));
        done(boom() as Error);
      },
    });
    source.on('error', (err) => cut.destroy(err));
    return source.pipe(cut);
  };
  const driver: StorageDriver = {
    name: 'throwing',
    getContent: (p) => guard(() => inner.getContent(p)),
    putContent: (p, d, o) => guard(() => inner.putContent(p, d, o)),
    createExclusive: (p, d, o) => guard(() => inner.createExclusive(p, d, o)),
    reader: (p, o) => guard(async () => (mode === 'mid-stream' ? failingAfter(await inner.reader(p, o), 1000) : inner.reader(p, o))),
    writer: (p, o) => guard((): Promise<FileWriter> => inner.writer(p, o)),
    stat: (p) => guard(() => inner.stat(p)),
    statFile: (p) => guard(() => inner.statFile(p)),
    list: (p) => guard(() => inner.list(p)),
    walk: (p) =>
      (async function* () {
        if (mode === 'throw' || typeof mode === 'object') throw boom();
        yield* inner.walk(p);
      })(),
    move: (s, d) => guard(() => inner.move(s, d)),
    delete: (p) => guard(() => inner.delete(p)),
    deleteIf: (p, e) => guard(() => inner.deleteIf(p, e)),
    pruneDirs: (p) => guard(() => inner.pruneDirs(p)),
    redirectUrl: (p, o) => guard(() => inner.redirectUrl(p, o)),
    purgeLeftovers: (t, o) => guard(() => inner.purgeLeftovers(t, o)),
  };
  return { driver, setFailing: (m) => (mode = m) };
}

/**
 * Wraps a driver so that one read of a chosen path can be held after it has read storage: a read
 * that started before a write and finishes after it. `hold` arms it for the next getContent of
 * `path`; `reached` resolves once that read has its (old) bytes, `release` lets it return them.
 */
export function holdingDriver(inner: StorageDriver): {
  driver: StorageDriver;
  hold: (path: string) => { reached: Promise<void>; release: () => void };
} {
  let armed: { path: string; reached(): void; released: Promise<void> } | undefined;
  const driver: StorageDriver = {
    ...recordingDriver(inner).driver,
    name: inner.name,
    getContent: async (p) => {
      const bytes = await inner.getContent(p);
      const gate = armed?.path === p ? armed : undefined;
      if (gate) {
        armed = undefined;
        gate.reached();
        await gate.released;
      }
      return bytes;
    },
  };
  return {
    driver,
    hold: (path) => {
      let arrived = (): void => undefined;
      let release = (): void => undefined;
      const reached = new Promise<void>((resolve) => (arrived = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      armed = { path, reached: arrived, released };
      return { reached, release };
    },
  };
}
