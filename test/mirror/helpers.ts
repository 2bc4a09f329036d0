import assert from 'node:assert/strict';
import { Writable, type Readable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type request from 'supertest';
import { MT, content, descriptor, dockerList, manifestDescriptor, ociIndex, ociManifest, pushBlob, pushImage, pushManifest, type Image, type Manifest } from '../api/helpers';
import { REDACT_PATHS } from '../../src/logger';
import { UpstreamError, type UpstreamErrorKind } from '../../src/mirror/upstream-errors';

/** A debug-level logger (redacting as Berth's does) writing into a string the test can search. */
export function captureLogger(): { logger: Logger; lines: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString('utf8');
      cb();
    },
  });
  return { logger: pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: 'REDACTED' } }, sink), lines: () => text };
}

export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Awaits `p`, which must fail with an UpstreamError of `kind`; answers it. */
export async function rejectsWith(p: Promise<unknown>, kind: UpstreamErrorKind): Promise<UpstreamError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `expected an UpstreamError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    return err;
  }
  assert.fail(`expected an UpstreamError ${kind}, got success`);
}

export interface Seeded {
  repo: string;
  image: Image;
  /** An OCI index of two platform images, tagged `multi`. */
  index: Manifest;
  /** A Docker manifest list of the same images, tagged `list`. */
  list: Manifest;
  /** An artifact whose subject is `image`, pushed by digest. */
  artifact: Manifest;
  artifactType: string;
}

/** Pushes an image (`v1`), a multi-platform OCI index (`multi`), a Docker list (`list`) and an artifact referring to the image. */
export async function seedUpstream(agent: request.Agent, repo: string): Promise<Seeded> {
  const image = await pushImage(agent, repo, 'v1');
  const amd = await pushImage(agent, repo);
  const arm = await pushImage(agent, repo);
  const platforms = [
    manifestDescriptor(amd.manifest, { platform: { architecture: 'amd64', os: 'linux' } }),
    manifestDescriptor(arm.manifest, { platform: { architecture: 'arm64', os: 'linux' } }),
  ];
  const index = ociIndex(platforms);
  assert.equal((await pushManifest(agent, repo, 'multi', index)).status, 201);
  const list = dockerList(platforms.map((p) => ({ ...p, mediaType: MT.ociManifest })));
  assert.equal((await pushManifest(agent, repo, 'list', list)).status, 201);
  const artifactType = 'application/vnd.example.sbom+json';
  const empty = content(Buffer.from('{}'));
  await pushBlob(agent, repo, empty);
  const artifact = ociManifest({
    artifactType,
    config: descriptor(empty, MT.ociEmpty),
    layers: [descriptor(empty, MT.ociEmpty)],
    subject: manifestDescriptor(image.manifest),
  });
  assert.equal((await pushManifest(agent, repo, artifact.digest, artifact)).status, 201);
  return { repo, image, index, list, artifact, artifactType };
}
