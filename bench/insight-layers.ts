import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { compress, tarStream, type TestEntry } from '../test/unit/insight/layers';
import { drained } from './blob-data';
import { MiB } from './stats';

/**
 * Real image layers for the `insight` group: gzip tars of many files, generated deterministically
 * (a fixed xorshift, as bench/insight-scan.ts) once per run. Files are 100 B to 128 KiB, log-uniform,
 * half source-like text and half random bytes (so gzip shrinks them as it would a distribution's
 * layer), with no secret in them: `deny` finds nothing to refuse.
 *
 * A registry sees every layer of every image as a blob of its own (its own digest, its own analysis),
 * without the generator compressing hundreds of MiB: a layer is a small gzip member of its own (a tar
 * holding one file naming the image and layer, without the archive's end) followed by one of
 * `BASE_LAYERS` shared members (files, then the end). Concatenated gzip members are one valid gzip
 * stream (RFC 1952), which gunzip, containerd and Berth's scan read as one tar.
 */
export const BASE_LAYERS = 10;
const WORDS = 'the layer file image registry push pull digest manifest blob config index tag const return function import export module'.split(' ');

/** A fixed xorshift: the same layers every run (also bench/insight-scan.ts's). */
export function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function* files(layer: number, tarBytes: number): Generator<TestEntry> {
  const random = prng(0x5eed + layer * 7919);
  let total = 0;
  for (let i = 0; total < tarBytes; i++) {
    const size = Math.round(100 * Math.pow((128 * 1024) / 100, random()));
    const content = Buffer.alloc(size);
    const text = i % 2 === 0;
    if (text) for (let at = 0; at < size; ) at += content.write(WORDS[Math.floor(random() * WORDS.length)] + (random() < 0.1 ? '\n' : ' '), at);
    else for (let at = 0; at < size; at++) content[at] = Math.floor(random() * 256);
    total += size + 512;
    yield { name: `usr/lib/pkg${layer}-${i % 32}/file-${i}${text ? '.txt' : '.so'}`, content };
  }
}

export interface Layers {
  /** The shared members: each a gzip tar of its files and the archive's end. */
  bases: Buffer[];
  /** Regular files in each base. */
  filesPerBase: number[];
}

let cached: { tarBytes: number; layers: Layers } | null = null;

/** The base members, built once per run (a few seconds on the generator's CPU). */
export async function baseLayers(tarBytes: number): Promise<Layers> {
  if (cached?.tarBytes === tarBytes) return cached.layers;
  const bases: Buffer[] = [];
  const filesPerBase: number[] = [];
  for (let l = 0; l < BASE_LAYERS; l++) {
    const entries = [...files(l, tarBytes)];
    filesPerBase.push(entries.length);
    bases.push(await buffer(compress(tarStream(entries), 'gzip')));
  }
  cached = { tarBytes, layers: { bases, filesPerBase } };
  return cached.layers;
}

/** A tar of one small file without the end of the archive (the 1 KiB of zeros pack appends). */
async function openTar(name: string, content: string): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  const bytes = await buffer(pack);
  return bytes.subarray(0, bytes.length - 1024);
}

/** One layer of one image: its own member, then a shared one. Digest and size computed up front. */
export class ImageLayer {
  readonly size: number;
  readonly digest: string;

  constructor(
    readonly prefix: Buffer,
    readonly base: Buffer,
  ) {
    this.size = prefix.length + base.length;
    this.digest = `sha256:${createHash('sha256').update(prefix).update(base).digest('hex')}`;
  }

  async writeTo(sink: Writable): Promise<void> {
    if (!sink.write(this.prefix)) await drained(sink);
    if (!sink.write(this.base)) await drained(sink);
  }
}

export interface BenchImage {
  id: string;
  layers: ImageLayer[];
  /** Its own config (a distinct blob per image: each is analysed once, as not-a-layer). */
  config: Buffer;
}

const images = new Map<string, BenchImage>();

/** Image `id`: its `count` layers (bases in turn), hashed once per run and shared by every registry. */
export async function benchImage(layers: Layers, id: string, count = BASE_LAYERS): Promise<BenchImage> {
  const known = images.get(id);
  if (known) return known;
  const made: ImageLayer[] = [];
  for (let l = 0; l < count; l++) {
    const member = gzipSync(await openTar(`etc/berth-bench/${id}-${l}`, `image ${id} layer ${l}\n`));
    made.push(new ImageLayer(member, layers.bases[l % layers.bases.length]));
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { 'org.example.bench': id } }, rootfs: { type: 'layers', diff_ids: [] } }));
  const image = { id, layers: made, config };
  images.set(id, image);
  return image;
}

export const meanSize = (image: BenchImage): number => image.layers.reduce((n, l) => n + l.size, 0) / image.layers.length / MiB;
