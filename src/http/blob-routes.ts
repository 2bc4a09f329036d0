import { copyTo } from '../../storage-drivers/streams';
import { DomainError } from '../oci/errors';
import { parseDigest } from '../oci/digest';
import { parseRange, wantedRange } from './ranges';
import { sendEmpty, type RouteContext } from './context';
import { blobTarget, recordEvents } from './events';

/** GET and HEAD /v2/<name>/blobs/<digest>, with single byte ranges and optional redirects. */
export async function getBlob(ctx: RouteContext): Promise<void> {
  const { req, res, registry } = ctx;
  const digest = parseDigest(ctx.param);
  const method = req.method === 'HEAD' ? 'HEAD' : 'GET';
  // A plain GET opens the data while it checks the link: one storage request fewer than stat, open.
  const whole = method === 'GET' && !ctx.options.redirect && req.headers.range === undefined;
  const opened = whole ? await registry.blobs.openWhole(ctx.name, digest, ctx.signal) : undefined;
  try {
    const { size, canonical } = opened?.info ?? (await registry.blobs.stat(ctx.name, digest));
    // HEAD is a pull too, as in Distribution (whose HEAD handler is its GET handler).
    await recordEvents(ctx, 'pull', [blobTarget(ctx, digest, size)]);
    if (ctx.options.redirect) {
      const url = await registry.blobs.redirectUrl(canonical, method);
      if (url) return sendEmpty(res, 307, { Location: url, 'Docker-Content-Digest': digest.value });
    }
    const range = parseRange(wantedRange(req.headers, `"${digest.value}"`), size);
    res.setHeader('Docker-Content-Digest', digest.value);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', `"${digest.value}"`);
    res.setHeader('Cache-Control', 'max-age=31536000');
    if (range.kind === 'unsatisfiable')
      throw new DomainError('range-not-satisfiable', { size }, 'requested range not satisfiable');
    const span = range.kind === 'partial' ? range.range : undefined;
    res.statusCode = span ? 206 : 200;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', span ? span.end - span.start + 1 : size);
    if (span) res.setHeader('Content-Range', `bytes ${span.start}-${span.end}/${size}`);
    if (method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    const stream = opened?.stream ?? (await registry.blobs.open(canonical, span, ctx.signal));
    res.flushHeaders();
    try {
      await copyTo(stream, res);
    } catch (err) {
      // The client went away, or storage failed mid-body: the status is already sent, so the only
      // honest signal left is to cut the connection short of Content-Length.
      res.destroy(err as Error);
    }
  } finally {
    // Released whichever way the request went (a no-op once copyTo has read it to the end).
    opened?.stream.destroy();
  }
}

export async function deleteBlob(ctx: RouteContext): Promise<void> {
  const digest = parseDigest(ctx.param);
  await ctx.registry.blobs.unlink(ctx.name, digest);
  await recordEvents(ctx, 'delete', [{ digest: digest.value }]);
  sendEmpty(ctx.res, 202, { 'Docker-Content-Digest': digest.value });
}
