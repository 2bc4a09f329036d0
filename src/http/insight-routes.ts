import { DomainError } from '../oci/errors';
import type { InsightServices } from '../insight/layer-analysis';
import { readLayerRecord } from '../insight/layer-records';
import { layerEntries } from '../insight/report/image-analysis';
import { manifestShape } from '../insight/report/image-manifest';
import { manifestReport, type ReportDeps } from '../insight/report/image-report';
import { filePage, type PageCursor } from '../insight/report/file-page';
import type { LayerEntry } from '../insight/layer-entry';
import { sendJson, type RouteContext } from './context';
import { nextLink } from './listing-routes';
import { readReference } from './manifest-routes';
import { parseCount } from './ranges';
import { dirQuery, sendLayerDir } from './insight-dir-routes';
import { DEFAULT_PAGE, insightOf, invalid, MAX_PAGE, PENDING_RETRY_AFTER } from './insight-params';

/** Longer than any path a tar can carry usefully; a longer `last` is refused before a read. */
const MAX_LAST_LENGTH = 16 * 1024;

function reportDeps(ctx: RouteContext, insight: InsightServices): ReportDeps {
  return {
    driver: insight.driver,
    manifests: ctx.registry.manifests,
    blobs: ctx.registry.blobs,
    analysis: insight.analysis,
    policy: insight.secrets.for(ctx.name),
    readOnly: ctx.options.readOnly,
    signal: ctx.signal,
  };
}

const reportPath = (name: string, reference: string) => `/v2/${name}/_berth/insight/${reference}`;

/** GET /v2/<name>/_berth/insight/<reference>: the report; 202 with Retry-After while layers are pending. */
export async function getInsight(ctx: RouteContext): Promise<void> {
  const insight = insightOf(ctx);
  const ref = readReference(ctx.param);
  const report = await manifestReport(reportDeps(ctx, insight), ctx.name, ctx.param, ref, (digest) => reportPath(ctx.name, digest));
  const pending = report.status === 'pending';
  sendJson(ctx.res, pending ? 202 : 200, report, pending ? { 'Retry-After': PENDING_RETRY_AFTER } : {});
}

/** GET /v2/_berth/insight/storage: bytes per repository, shared once, and what a collection would reclaim (catalog access). */
export async function getStorageView(ctx: RouteContext): Promise<void> {
  const insight = insightOf(ctx);
  if (!insight.storage) throw new DomainError('insight-disabled', {}, 'the storage view is not served by this registry');
  sendJson(ctx.res, 200, await insight.storage.get());
}

/**
 * HEAD /v2/_berth/insight/storage: 200 without computing anything, once auth let the request through:
 * how a client (the web UI) learns whether its user may read the view before offering a link to it.
 */
export async function headStorageView(ctx: RouteContext): Promise<void> {
  const insight = insightOf(ctx);
  if (!insight.storage) throw new DomainError('insight-disabled', {}, 'the storage view is not served by this registry');
  sendJson(ctx.res, 200, {});
}

function pageParameters(query: URLSearchParams): { n: number; cursor: PageCursor } {
  const n = Math.min(parseCount(query.get('n')) ?? DEFAULT_PAGE, MAX_PAGE);
  const last = query.get('last') ?? undefined;
  if (last !== undefined && (last === '' || last.length > MAX_LAST_LENGTH)) throw invalid({ last: last.slice(0, 50) }, 'last must be a path of the list');
  const rawAt = query.get('at');
  if (rawAt !== null && !/^\d{1,9}$/.test(rawAt)) throw invalid({ at: rawAt.slice(0, 50) }, 'at must be a non-negative integer');
  return { n, cursor: { last, at: rawAt === null ? undefined : Number(rawAt) } };
}

function entryJson(e: LayerEntry) {
  return { path: e.path, type: e.type, size: e.size, mode: e.mode, uid: e.uid, gid: e.gid, linkTarget: e.linkTarget ?? null, digest: e.digest ?? null };
}

/**
 * GET /v2/<name>/_berth/insight/<reference>/layers/<index>/files?n=&last=&at=: a page of the layer's
 * stored file list, with a Link to the next one as tag lists have; with `dir=`, that directory's
 * children (insight-dir-routes.ts). A layer without a record yet is
 * queued (202); one that failed or is not a layer has no list (an empty page with its status).
 */
export async function getInsightFiles(ctx: RouteContext): Promise<void> {
  const insight = insightOf(ctx);
  const split = ctx.param.lastIndexOf('/layers/');
  const reference = ctx.param.slice(0, split);
  const rawIndex = ctx.param.slice(split + '/layers/'.length);
  if (!/^\d{1,6}$/.test(rawIndex)) throw invalid({ layer: rawIndex.slice(0, 50) }, 'the layer index must be a non-negative integer');
  const dir = dirQuery(ctx.query, false);
  const { n, cursor } = dir === undefined ? pageParameters(ctx.query) : { n: 0, cursor: {} };
  const m = await ctx.registry.manifests.get(ctx.name, readReference(reference));
  const shape = manifestShape(m.mediaType, m.bytes);
  if (shape.kind !== 'image') throw invalid({ layer: rawIndex }, `${reference} is not an image manifest: ask one of its manifests`);
  const index = Number(rawIndex);
  const descriptor = shape.layers[index];
  if (descriptor === undefined) throw invalid({ layer: rawIndex }, `layer ${index} is out of range: the image has ${shape.layers.length} layers`);
  const layer = { index, digest: descriptor.digest.value, mediaType: descriptor.mediaType };
  const record = await readLayerRecord(insight.driver, descriptor.digest);
  if (record === null) {
    if (!ctx.options.readOnly) await insight.analysis.enqueue(descriptor.digest);
    sendJson(ctx.res, 202, { layer, status: 'pending', entries: [], next: null }, { 'Retry-After': PENDING_RETRY_AFTER });
    return;
  }
  if (record.outcome !== 'analysed') {
    sendJson(ctx.res, 200, { layer, status: record.outcome, error: record.error ?? null, entries: [], next: null });
    return;
  }
  if (dir !== undefined) return sendLayerDir(ctx, insight, dir, { reference, layers: shape.layers }, layer);
  const page = await filePage(layerEntries(insight.driver, descriptor.digest, index), n, cursor);
  if (page.mismatch) throw invalid({ last: (cursor.last ?? '').slice(0, 50), at: String(cursor.at) }, 'last is not the path at position at: not a cursor of this list');
  const headers: Record<string, string> = {};
  let next: string | null = null;
  if (page.next) {
    headers.Link = nextLink(`${reportPath(ctx.name, reference)}/layers/${index}/files`, { n, last: page.next.last, at: page.next.at });
    next = headers.Link.slice(1, headers.Link.indexOf('>'));
  }
  sendJson(ctx.res, 200, { layer, status: 'analysed', entries: page.entries.map(entryJson), next }, headers);
}
