import { formatAddress } from '../config/listen-address';
import type { EventAction } from '../config/notifications-schema';
import { BLOB_MEDIA_TYPE, type EventOrigin, type EventTarget } from '../events/event';
import { manifestReferences } from '../events/references';
import type { Digest } from '../oci/digest';
import type { RouteContext } from './context';
import { stateOf } from './request-state';
import { baseUrl, requestHost } from './urls';
import { clientOf, type ClientAddress } from './client-address';

type Target = Omit<EventTarget, 'repository'>;

/**
 * Records the events of a request before it is acknowledged (at-least-once delivery starts with the
 * event in storage). Without a notifier, or when no endpoint wants the action, it does nothing.
 */
export async function recordEvents(ctx: RouteContext, action: EventAction, targets: Target[]): Promise<void> {
  const notifier = ctx.options.notifier;
  if (!notifier?.wants(action)) return;
  const origin = eventOrigin(ctx);
  await Promise.all(targets.map((t) => notifier.record(action, { ...t, repository: ctx.name }, origin)));
}

/** The request an event records as its cause. */
export function eventOrigin(ctx: RouteContext): EventOrigin {
  const { req } = ctx;
  return {
    request: {
      id: stateOf(ctx.res).reqId,
      addr: peerAddress(clientOf(req)),
      host: requestHost(req),
      method: req.method ?? '',
      useragent: req.headers['user-agent'] ?? '',
    },
    actor: ctx.grant.subject ?? undefined,
  };
}

/**
 * The client as Go's RemoteAddr prints it: `ip:port`, `[ipv6]:port`, an IPv4 client of a dual-stack
 * listener as IPv4; a forwarded client's bare IP (X-Forwarded-For carries no port). Distribution
 * takes X-Forwarded-For or X-Real-IP from anyone; Berth only from http.trustedproxies, since any
 * client can write them (src/http/client-address.ts).
 */
function peerAddress(client: ClientAddress): string | undefined {
  if (client.ip === 'unknown') return undefined;
  if (client.port !== undefined) return formatAddress(client.ip, client.port);
  return client.ip.includes(':') ? `[${client.ip}]` : client.ip;
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

/** Whether a manifest event needs the manifest's content (for its references). */
export function wantsManifestContent(ctx: RouteContext, action: EventAction): boolean {
  return wantsEvent(ctx, action) && ctx.options.notifier?.includeReferences === true;
}

/** A manifest event's target; its references when configured and the content is at hand. */
export function manifestTarget(ctx: RouteContext, m: { mediaType: string; size: number; digest: Digest }, bytes: Buffer | undefined, tag?: string): Target {
  const references = bytes && ctx.options.notifier?.includeReferences ? manifestReferences(bytes) : undefined;
  return { mediaType: m.mediaType, size: m.size, digest: m.digest.value, url: contentUrl(ctx, 'manifests', m.digest), tag, references };
}

/** A blob event's target: Distribution gives blobs no media type beyond octet-stream. */
export function blobTarget(ctx: RouteContext, digest: Digest, size: number): Target {
  return { mediaType: BLOB_MEDIA_TYPE, size, digest: digest.value, url: contentUrl(ctx, 'blobs', digest) };
}
