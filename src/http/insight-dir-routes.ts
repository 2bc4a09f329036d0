import { mapBounded } from '../oci/bounded';
import type { Digest } from '../oci/digest';
import type { InsightServices } from '../insight/layer-analysis';
import type { LayerEntry } from '../insight/layer-entry';
import { readLayerRecord } from '../insight/layer-records';
import { layerEntries } from '../insight/report/image-analysis';
import { isForeignLayer, manifestShape, type ReportDescriptor } from '../insight/report/image-manifest';
import type { DirChild, DirIndex } from '../insight/tree/dir-index';
import { imageDirIndex } from '../insight/tree/image-dirs';
import { layerDirIndex } from '../insight/tree/layer-dirs';
import { markHidden } from '../insight/tree/later-hides';
import { sendJson, type RouteContext } from './context';
import { nextLink } from './listing-routes';
import { readReference } from './manifest-routes';
import { DEFAULT_PAGE, insightOf, invalid, MAX_PAGE, PENDING_RETRY_AFTER } from './insight-params';
import { parseCount } from './ranges';

/** Linux's PATH_MAX: no directory of an image has a longer path. Refused before any read. */
const MAX_DIR_LENGTH = 4096;
/** Layer records read at once. */
const READ_CONCURRENCY = 8;

export interface DirQuery {
  /** Normalised: relative, no `.` or empty components; `.` for the root. */
  dir: string;
  n: number;
  /** The name (not the path) of the previous page's last child. */
  last?: string;
}

/** `?dir=&n=&last=` of a directory listing; undefined without `dir` (a layer's flat list). */
export function dirQuery(query: URLSearchParams, required: boolean): DirQuery | undefined {
  const raw = query.get('dir') ?? (required ? '' : null);
  if (raw === null) return undefined;
  if (raw.length > MAX_DIR_LENGTH || raw.includes('\0')) throw invalid({ dir: raw.slice(0, 50) }, `dir must be a path of at most ${MAX_DIR_LENGTH} characters, without NUL`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalid({ dir: raw.slice(0, 50) }, 'dir must not contain "..": it names a directory from the root of the image');
  if (query.has('at')) throw invalid({ at: String(query.get('at')).slice(0, 50) }, 'at pages the flat list: a directory listing pages by last (a name) alone');
  const last = query.get('last') ?? undefined;
  if (last !== undefined && (last === '' || last.includes('/') || last.length > MAX_DIR_LENGTH)) throw invalid({ last: last.slice(0, 50) }, 'last must be the name of a child of dir (no "/")');
  const n = Math.min(parseCount(query.get('n')) ?? DEFAULT_PAGE, MAX_PAGE);
  return { dir: parts.length === 0 ? '.' : parts.join('/'), n, last };
}

async function* none(): AsyncGenerator<LayerEntry> {}

/**
 * The final filesystem's index of an image, or the layers it still waits for (queued). A layer that
 * failed, is not a layer or is a foreign one without a record goes in empty, as in the report.
 */
async function imageIndex(ctx: RouteContext, insight: InsightServices, manifest: Digest, layers: ReportDescriptor[]): Promise<DirIndex | { pending: Array<{ index: number; digest: string }> }> {
  const records = await mapBounded(layers, READ_CONCURRENCY, (l) => readLayerRecord(insight.driver, l.digest));
  const waiting = layers.flatMap((l, index) => (records[index] === null && !isForeignLayer(l) ? [{ index, digest: l.digest }] : []));
  if (waiting.length > 0) {
    if (!ctx.options.readOnly) await Promise.all(waiting.map((w) => insight.analysis.enqueue(w.digest)));
    return { pending: waiting.map((w) => ({ index: w.index, digest: w.digest.value })) };
  }
  const used = records.map((r) => r?.outcome === 'analysed');
  const key = `image ${manifest.value} ${used.map((u) => (u ? 1 : 0)).join('')}`;
  return insight.dirs.get(key, () => imageDirIndex(layers.map((l, i) => (used[i] ? layerEntries(insight.driver, l.digest, i) : none()))));
}

/** A page of a directory's children, with a Link to the next as tag lists have. */
function sendPage(ctx: RouteContext, index: DirIndex, q: DirQuery, where: string, path: string, head: Record<string, unknown>, mark?: (dir: string, children: DirChild[]) => DirChild[]): void {
  const id = index.find(q.dir);
  if (id === undefined) throw invalid({ dir: q.dir.slice(0, 50) }, `dir ${q.dir} is not in ${where}`);
  if (!index.isDir(id)) throw invalid({ dir: q.dir.slice(0, 50) }, `dir ${q.dir} is a ${index.type(id)} in ${where}, not a directory`);
  const page = index.page(id, q.dir, q.n, q.last);
  const headers: Record<string, string> = {};
  let next: string | null = null;
  if (page.next !== undefined) {
    headers.Link = nextLink(path, { dir: q.dir, n: q.n, last: page.next });
    next = headers.Link.slice(1, headers.Link.indexOf('>'));
  }
  const entries = mark ? mark(q.dir, page.children) : page.children;
  sendJson(ctx.res, 200, { ...head, dir: q.dir, total: index.size(id), entries, next }, headers);
}

/**
 * `…/layers/<i>/files?dir=`: the children of a directory of layer i's own entries. When every layer
 * above it has a record, each child a later layer deleted or replaced is marked `hidden`
 * (later-hides.ts), from those layers' own indexes: a listing of a big base layer under small ones
 * reads the small ones, not the whole image.
 */
export async function sendLayerDir(ctx: RouteContext, insight: InsightServices, q: DirQuery, image: { reference: string; layers: ReportDescriptor[] }, layer: { index: number; digest: string; mediaType: string }): Promise<void> {
  // Keyed by blob: a layer shared by images is indexed once (its children's `layer` is set below).
  const indexOf = (d: ReportDescriptor, i: number) => insight.dirs.get(`layer ${d.digest.value}`, () => layerDirIndex(layerEntries(insight.driver, d.digest, i), i));
  const own = await indexOf(image.layers[layer.index], layer.index);
  const above = image.layers.slice(layer.index + 1);
  const records = await mapBounded(above, READ_CONCURRENCY, (l) => readLayerRecord(insight.driver, l.digest));
  // A layer above without a record yet: what it hides is not known. One that failed hides nothing, as in the merge.
  const known = records.every((r, i) => r !== null || isForeignLayer(above[i]));
  const later = known ? (await mapBounded(above, 2, (l, i) => (records[i]?.outcome === 'analysed' ? indexOf(l, layer.index + 1 + i) : Promise.resolve(null)))).filter((x) => x !== null) : [];
  const mark = (dir: string, children: DirChild[]) => {
    const listed = children.map((c) => ({ ...c, layer: layer.index }));
    return known ? markHidden(dir, listed, later) : listed;
  };
  const path = `/v2/${ctx.name}/_berth/insight/${image.reference}/layers/${layer.index}/files`;
  sendPage(ctx, own, q, `layer ${layer.index}`, path, { layer, status: 'analysed', hiddenMarked: known }, mark);
}

/** GET /v2/<name>/_berth/insight/<reference>/files?dir=: a directory of the image's final filesystem. */
export async function getImageFiles(ctx: RouteContext): Promise<void> {
  const insight = insightOf(ctx);
  const reference = ctx.param;
  const q = dirQuery(ctx.query, true)!;
  const m = await ctx.registry.manifests.get(ctx.name, readReference(reference));
  const shape = manifestShape(m.mediaType, m.bytes);
  if (shape.kind !== 'image') throw invalid({ dir: q.dir.slice(0, 50) }, `${reference} is not an image manifest: ask one of its manifests`);
  const final = await imageIndex(ctx, insight, m.digest, shape.layers);
  if ('pending' in final) {
    sendJson(ctx.res, 202, { digest: m.digest.value, status: 'pending', pending: final.pending, dir: q.dir, entries: [], next: null }, { 'Retry-After': PENDING_RETRY_AFTER });
    return;
  }
  sendPage(ctx, final, q, 'the image', `/v2/${ctx.name}/_berth/insight/${reference}/files`, { digest: m.digest.value, status: 'complete' });
}
