import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

/** Where `npm run build` writes the UI: dist/ui, beside dist/src where this file compiles to. */
export const DEFAULT_UI_DIRECTORY = path.resolve(__dirname, '..', '..', 'ui');

/** The placeholder index.html carries where the UI's path goes (ui/build.mjs writes it). */
export const BASE_PLACEHOLDER = '%BERTH_UI_BASE%';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt', '.map']);
/** esbuild's `[name]-[hash]` names: content-addressed, so they never change under one URL. */
const HASHED = /-[A-Z0-9]{8}\.[a-z]+$/;
/** Smaller bodies gain nothing from gzip worth a header and a CPU pass. */
const GZIP_MIN = 1024;

export interface UiFile {
  body: Buffer;
  /** The body gzipped, when that is worth sending. */
  gzip?: Buffer;
  contentType: string;
  /** Quoted strong ETag of the body. */
  etag: string;
  cacheControl: string;
}

export interface UiBundle {
  /** By path relative to the UI directory ('assets/app-XXXXXXXX.js'); index.html is `index`. */
  files: ReadonlyMap<string, UiFile>;
  index: UiFile;
}

async function prepare(rel: string, body: Buffer): Promise<UiFile> {
  const ext = path.extname(rel).toLowerCase();
  const immutable = rel.startsWith('assets/') && HASHED.test(rel);
  return {
    body,
    gzip: COMPRESSIBLE.has(ext) && body.length >= GZIP_MIN ? await gzipAsync(body, { level: 9 }) : undefined,
    contentType: TYPES[ext] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    // index.html names the current assets: always revalidated (cheap with its ETag), never stale.
    cacheControl: immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
}

/**
 * Reads the built UI into memory, once: it is some tens of KB, so serving it from memory costs less
 * than a file open per request and puts no file-system path on the request path at all (a request
 * can only name a key of this map, never a file). Undefined when the UI was not built.
 */
export async function loadUiBundle(directory: string, basePath: string): Promise<UiBundle | undefined> {
  let names: string[];
  try {
    names = (await readdir(directory, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => path.relative(directory, path.join(d.parentPath, d.name)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const files = new Map<string, UiFile>();
  let index: UiFile | undefined;
  for (const name of names.sort()) {
    const rel = name.split(path.sep).join('/');
    let body = await readFile(path.join(directory, name));
    if (rel === 'index.html') {
      // The schema limits the path to URL-safe characters: nothing to escape in HTML.
      body = Buffer.from(body.toString('utf8').split(BASE_PLACEHOLDER).join(basePath));
      index = await prepare(rel, body);
      continue;
    }
    files.set(rel, await prepare(rel, body));
  }
  return index && { files, index };
}
