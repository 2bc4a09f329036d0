import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/exec';

/** What a second, independent reading of an image says it ships and keeps. */
export interface SavedImageFigures {
  /** Regular-file bytes per layer, in order. */
  shippedPerLayer: number[];
  shippedBytes: number;
  reachableBytes: number;
  efficiency: number;
}

// `tar -tv` of GNU tar: mode, owner/group, size, date, time, name (with ` link to ` or ` -> `).
const LISTING = /^(\S)\S{9}\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(.*)$/;

function normalise(name: string): string {
  return name.replace(/^\.\//, '').replace(/\/$/, '');
}

/**
 * The efficiency of an image from `docker save` and the tar command alone, not Berth's code: each
 * layer's listing applied in order, a whiteout dropping its path and what lies below, an opaque
 * marker what lower layers put in its directory, a later entry replacing an earlier one. Hard links
 * ship no bytes of their own. For the test images' plain names only (no spaces, no escapes).
 */
export async function savedImageFigures(docker: (args: string[]) => Promise<string>, ref: string, work: string): Promise<SavedImageFigures> {
  const dir = path.join(work, `saved-${ref.replace(/[^a-z0-9]/gi, '_')}`);
  await mkdir(dir, { recursive: true });
  const archive = path.join(dir, 'image.tar');
  await docker(['save', '-o', archive, ref]);
  await run('tar', ['-xf', archive, '-C', dir]);
  const [{ Layers }] = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Array<{ Layers: string[] }>;
  // path → {size, layer}: the content each path holds in the merged filesystem.
  const merged = new Map<string, { size: number; layer: number }>();
  const shippedPerLayer: number[] = [];
  for (const [index, layer] of Layers.entries()) {
    const listing = (await run('tar', ['-tvf', path.join(dir, layer)])).stdout.split('\n').filter((l) => l !== '');
    const entries = listing.map((line) => {
      const m = LISTING.exec(line);
      if (!m) throw new Error(`unparsed tar listing line: ${line}`);
      const [, type, size, rest] = m;
      const name = normalise(type === 'h' ? rest.split(' link to ')[0] : type === 'l' ? rest.split(' -> ')[0] : rest);
      return { type, size: Number(size), name };
    });
    // Whiteouts apply to lower layers only, whatever their place in the tar.
    for (const { name } of entries) {
      const base = path.posix.basename(name);
      const parent = path.posix.dirname(name);
      if (base === '.wh..wh..opq') {
        for (const [p, v] of merged) if (v.layer < index && p.startsWith(`${parent}/`)) merged.delete(p);
      } else if (base.startsWith('.wh.')) {
        const hidden = path.posix.join(parent, base.slice(4));
        for (const p of [...merged.keys()]) if (p === hidden || p.startsWith(`${hidden}/`)) merged.delete(p);
      }
    }
    let shipped = 0;
    for (const { type, size, name } of entries) {
      if (path.posix.basename(name).startsWith('.wh.')) continue;
      if (type === '-') {
        shipped += size;
        merged.set(name, { size, layer: index });
      } else if (type !== 'd') merged.set(name, { size: 0, layer: index });
    }
    shippedPerLayer.push(shipped);
  }
  const shippedBytes = shippedPerLayer.reduce((a, b) => a + b, 0);
  const reachableBytes = [...merged.values()].reduce((a, v) => a + v.size, 0);
  return { shippedPerLayer, shippedBytes, reachableBytes, efficiency: shippedBytes === 0 ? 1 : reachableBytes / shippedBytes };
}
