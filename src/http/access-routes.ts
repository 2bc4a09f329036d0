import { sendJson, type RouteContext } from './context';

/**
 * `GET /v2/<name>/_berth/access`: what the caller may do to the repository beyond pulling, so the
 * web UI shows a delete button only where a delete can succeed. Authorized as a pull of `<name>`
 * (auth/request-access.ts), so nobody learns anything of a repository they cannot pull; the
 * registry's own settings (deletes off, read-only, a mirror's pull-only repositories) count as
 * they would for the DELETE itself. In token mode the answer is what the presented token grants:
 * a client asks its token for `repository:<name>:pull,delete` to learn whether delete is granted.
 * Advisory only: every DELETE is still decided on its own.
 */
export async function getAccess(ctx: RouteContext): Promise<void> {
  const { options, grant, name } = ctx;
  const deletable = options.deleteEnabled && !options.readOnly && ctx.mirror === undefined;
  const answer = { name, delete: deletable && grant.allows('repository', name, 'delete') };
  // Per user and changing with the policy: never cached by a browser or a proxy.
  sendJson(ctx.res, 200, answer, { 'Cache-Control': 'no-store' });
}
