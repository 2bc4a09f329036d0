import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type request from 'supertest';
import type { Logger } from 'pino';
import { createLogger } from '../../src/logger';
import type { Metrics } from '../../src/metrics/metrics';
import { pathOf } from '../api/server';

/** A JSON logger whose lines the test can read back, parsed (`lines`) or as written (`text`). */
export function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[]; text: () => string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level: 'info', formatter: 'json', accesslog: { disabled: true }, fields: {} }, sink);
  return { logger, lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>), text: () => [...lines] };
}

/** The value of `berth_storage_faults_total{code="<code>"}` (0 when the series does not exist yet). */
export async function faultCount(metrics: Metrics, code: string): Promise<number> {
  const text = await metrics.registry.metrics();
  const series = `berth_storage_faults_total{code="${code}"} `;
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line === undefined ? 0 : Number(line.slice(series.length));
}

/** Polls `/readyz` until it answers `status`; returns the last body. */
export async function waitForReadiness(url: string, status: number, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/readyz`);
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status === status) return body;
    if (Date.now() > deadline) assert.fail(`/readyz stayed ${res.status} (${JSON.stringify(body)}), expected ${status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface FailedUpload {
  /** The first answer that was not a 202. */
  res: request.Response;
  /** The session's URL path (with `_state`), to cancel it later. */
  session: string;
  /** Bytes the registry accepted before the failure. */
  accepted: number;
}

/**
 * Starts an upload and PATCHes `chunk`-byte pieces until one is refused, or `limit` bytes went in.
 * Small chunks keep the unread rest of a refused body within the socket buffers.
 */
export async function patchUntilRefused(agent: request.Agent, name: string, chunk: number, limit: number): Promise<FailedUpload> {
  const start = await agent.post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0');
  if (start.status !== 202) return { res: start, session: '', accepted: 0 };
  let session = pathOf(start.headers.location);
  let accepted = 0;
  while (accepted < limit) {
    const res = await agent
      .patch(session)
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `${accepted}-${accepted + chunk - 1}`)
      .send(randomBytes(chunk));
    if (res.status !== 202) return { res, session, accepted };
    session = pathOf(res.headers.location);
    accepted += chunk;
  }
  assert.fail(`${limit} bytes went in without a refusal`);
}

interface ManifestJson {
  config?: { digest: string };
  layers?: { digest: string }[];
}

/**
 * What a client can see is whole: every listed tag resolves to a manifest whose config and layers
 * all exist. Returns how many tags were checked.
 */
export async function assertRepositoryWhole(agent: request.Agent, name: string): Promise<number> {
  const tags = await agent.get(`/v2/${name}/tags/list`);
  assert.equal(tags.status, 200, `tags/list of ${name}: ${tags.status} ${tags.text}`);
  const list = (tags.body as { tags: string[] | null }).tags ?? [];
  for (const tag of list) {
    const m = await agent.get(`/v2/${name}/manifests/${tag}`).set('Accept', 'application/vnd.oci.image.manifest.v1+json').buffer(true);
    assert.equal(m.status, 200, `tag ${tag} does not resolve: ${m.status}`);
    const json = JSON.parse(Buffer.isBuffer(m.body) ? m.body.toString('utf8') : m.text) as ManifestJson;
    for (const d of [json.config?.digest, ...(json.layers ?? []).map((l) => l.digest)].filter((x): x is string => !!x)) {
      const blob = await agent.head(`/v2/${name}/blobs/${d}`);
      assert.equal(blob.status, 200, `tag ${tag} references ${d}, which answers ${blob.status}`);
    }
  }
  return list.length;
}

/** A request's error body's first entry. */
export function firstError(res: { text: string }): { code: string; message: string; detail?: unknown } {
  return (JSON.parse(res.text) as { errors: { code: string; message: string; detail?: unknown }[] }).errors[0];
}
