import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export const V2 = path.join('docker', 'registry', 'v2');

/**
 * Directories that only one registry writes and that the other never reads: upload sessions
 * (transient, shaped differently by each) and Berth's referrers index.
 */
const IGNORED = new Set(['_uploads', '_referrers']);

export interface LayoutTree {
  /** path relative to docker/registry/v2 → link text, or `sha256 of <n> bytes` for anything else */
  files: Map<string, string>;
  /** every directory, relative to docker/registry/v2, empty ones included */
  dirs: Set<string>;
}

async function describe(file: string, name: string): Promise<string> {
  const data = await readFile(file);
  if (name === 'link') return `link ${data.toString('utf8')}`;
  return `${createHash('sha256').update(data).digest('hex')} (${data.length} bytes)`;
}

/** Everything a registry left under <root>/docker/registry/v2, minus IGNORED. */
export async function readLayoutTree(root: string): Promise<LayoutTree> {
  const base = path.join(root, V2);
  const tree: LayoutTree = { files: new Map(), dirs: new Set() };
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(base, rel), { withFileTypes: true });
    for (const e of entries) {
      if (IGNORED.has(e.name)) continue;
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        tree.dirs.add(childRel);
        await walk(childRel);
      } else {
        tree.files.set(childRel, await describe(path.join(base, childRel), e.name));
      }
    }
  };
  await walk('');
  return tree;
}

function fileLessDirs(t: LayoutTree): string[] {
  const holding = new Set<string>();
  for (const f of t.files.keys()) {
    for (let i = f.indexOf('/'); i >= 0; i = f.indexOf('/', i + 1)) holding.add(f.slice(0, i));
  }
  return [...t.dirs].filter((d) => !holding.has(d));
}

/** Human-readable differences, empty when the trees match; `dirs` lists directories without files. */
export function diffLayoutTrees(a: LayoutTree, b: LayoutTree, aName: string, bName: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  for (const [p, v] of a.files) {
    if (!b.files.has(p)) files.push(`only ${aName}: ${p} (${v})`);
    else if (b.files.get(p) !== v) files.push(`differs: ${p}: ${aName} ${v} / ${bName} ${b.files.get(p)}`);
  }
  for (const [p, v] of b.files) if (!a.files.has(p)) files.push(`only ${bName}: ${p} (${v})`);
  // Directories that hold files are compared through the files; report only file-less ones.
  const dirs: string[] = [];
  for (const d of fileLessDirs(a)) if (!b.dirs.has(d)) dirs.push(`dir only ${aName}: ${d}/`);
  for (const d of fileLessDirs(b)) if (!a.dirs.has(d)) dirs.push(`dir only ${bName}: ${d}/`);
  return { files: files.sort(), dirs: dirs.sort() };
}
