import type { InsightServices } from '../insight/layer-analysis';
import { DomainError } from '../oci/errors';
import type { RouteContext } from './context';

/** Seconds a client waiting for a pending analysis is told to wait before asking again. */
export const PENDING_RETRY_AFTER = '2';
export const DEFAULT_PAGE = 100;
/** Pages are bounded as referrers are: a page is held in memory before it is sent. */
export const MAX_PAGE = 1000;

/** The insight services, or the 404 every insight route answers when insight is off. */
export function insightOf(ctx: RouteContext): InsightServices {
  if (!ctx.options.insight) throw new DomainError('insight-disabled', {}, 'image insight is disabled on this registry');
  return ctx.options.insight;
}

/** A query parameter of an insight route that cannot be served, with the offending values (cut short). */
export function invalid(facts: { n?: string; last?: string; at?: string; layer?: string; dir?: string }, message: string): DomainError {
  return new DomainError('parameter-invalid', facts, message);
}
