import type { ViewContext } from './context';

/**
 * Whether the user may delete in `name` on this registry (`GET /v2/<name>/_berth/access`, docs/ui.md):
 * the registry combines the user's grant with its delete and read-only settings. Any failure hides
 * the delete buttons: a button that can only be refused is worse than none. The API still decides
 * each delete.
 */
export async function mayDelete(ctx: ViewContext, name: string): Promise<boolean> {
  try {
    const { body } = await ctx.api.json<{ delete?: boolean }>(`/v2/${name}/_berth/access`, { signal: ctx.signal });
    return body.delete === true;
  } catch {
    return false;
  }
}
