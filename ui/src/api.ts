import { parseChallenge } from './challenge';
import { send, type Session } from './session';

/** An error answer of the registry, with the OCI error's code and message when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

/** The scope a /v2 request needs, as Berth's routes decide it (auth/request-access.ts). */
export function scopeOf(path: string, method: string): string | undefined {
  if (path.startsWith('/v2/_catalog')) return 'registry:catalog:*';
  // The registry-wide storage view needs the full catalog (auth/request-access.ts).
  if (path.startsWith('/v2/_berth/insight/storage')) return 'registry:catalog:*';
  const m = /^\/v2\/(.+?)\/(?:tags|manifests|blobs|referrers|_berth)\//.exec(path);
  if (!m) return undefined;
  // The access question is answered from the token: it must ask for delete to learn whether it is granted.
  if (path.endsWith('/_berth/access')) return `repository:${m[1]}:pull,delete`;
  return `repository:${m[1]}:${method === 'DELETE' ? 'delete' : 'pull'}`;
}

async function apiError(res: Response): Promise<ApiError> {
  let code: string | undefined;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { errors?: Array<{ code?: string; message?: string }> };
    const first = body.errors?.[0];
    if (first) {
      code = first.code;
      message = first.message ?? message;
    }
  } catch {
    // not JSON: the status says it
  }
  return new ApiError(res.status, code, message);
}

/** The `next` cursor of a `Link: <…?last=X>; rel="next"` header. */
export function nextCursor(res: Response): string | undefined {
  const link = res.headers.get('link');
  const m = link && /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  if (!m) return undefined;
  return new URL(m[1], location.origin).searchParams.get('last') ?? undefined;
}

/** The registry's API with the session's credentials; a token for a wider scope is fetched once when challenged. */
export class Api {
  constructor(private readonly session: Session) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const method = init.method ?? 'GET';
    let scope = scopeOf(path, method);
    for (let attempt = 0; ; attempt++) {
      const headers = new Headers(init.headers);
      const authorization = await this.session.authorization(scope);
      if (authorization) headers.set('authorization', authorization);
      const res = await send(path, { ...init, headers });
      if (res.status !== 401 || attempt > 0 || this.session.mode !== 'token') {
        if (!res.ok) throw await apiError(res);
        return res;
      }
      // The token lacked what the route needs: ask for what the challenge names, once.
      this.session.forget(scope);
      scope = parseChallenge(res.headers.get('www-authenticate'))?.params.scope ?? scope;
    }
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<{ body: T; res: Response }> {
    const res = await this.request(path, init);
    return { body: (await res.json()) as T, res };
  }
}
