import type { EventAction } from '../config/notifications-schema';
import { BLOB_MEDIA_TYPE, type EventTarget } from '../events/event';
import type { Digest } from '../oci/digest';
import type { RouteContext } from './context';
import { stateOf } from './request-state';
import { baseUrl, requestHost } from './urls';

type Target = Omit<EventTarget, 'repository'>;

/**
 * Records the events of a request before it is acknowledged (at-least-once delivery starts with the
 * event in storage). Without a notifier, or when no endpoint wants the action, it does nothing.
 */
export async function recordEvents(ctx: RouteContext, action: EventAction, targets: Target[]): Promise<void> {
  const notifier = ctx.options.notifier;
  if (!notifier?.wants(action)) return;
  const { req } = ctx;
  const origin = {
    request: {
      id: stateOf(ctx.res).reqId,
      addr: req.socket.remoteAddress && `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      host: requestHost(req),
      method: req.method ?? '',
      useragent: req.headers['user-agent'] ?? '',
    },
    actor: ctx.grant.subject ?? undefined,
  };
  await Promise.all(targets.map((t) => notifier.record(action, { ...t, repository: ctx.name }, origin)));
}

/** Whether recording `action` would do anything: lets a route skip extra work (a stat) for events. */
export function wantsEvent(ctx: RouteContext, action: EventAction): boolean {
  return ctx.options.notifier?.wants(action) ?? false;
}

/** Distribution's target URL: always absolute, since receivers are not the client that asked. */
export function contentUrl(ctx: RouteContext, kind: 'manifests' | 'blobs', digest: Digest): string {
  const base = baseUrl(ctx.req, { host: ctx.options.host, relative: false });
  return `${base}/v2/${ctx.name}/${kind}/${digest.value}`;
}

/** A blob event's target: Distribution gives blobs no media type beyond octet-stream. */
export function blobTarget(ctx: RouteContext, digest: Digest, size: number): Target {
  return { mediaType: BLOB_MEDIA_TYPE, size, digest: digest.value, url: contentUrl(ctx, 'blobs', digest) };
}
