import assert from 'node:assert/strict';

/** The error codes of the spec's "Error Codes" table (code-1 … code-14). */
export const SPEC_ERROR_CODES = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
] as const;

export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  /** The request that produced this reply, for assertion messages. */
  request: string;
  /** Whether the target promises JSON error bodies (the spec allows any format for a 4XX). */
  jsonErrors: boolean;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Uint8Array;
}

/** A tiny registry client: every call is one plain HTTP request, nothing hidden. */
export class Client {
  /** `jsonErrors`: hold the target to JSON bodies on every 4XX, beyond the spec's "MAY return a body in any format". */
  constructor(
    readonly baseUrl: string,
    readonly jsonErrors = false,
  ) {}

  /** `path` is either a path under the base URL or an absolute URL (a `Location`). */
  url(path: string): URL {
    return new URL(path, this.baseUrl);
  }

  async send(method: string, path: string | URL, opts: RequestOptions = {}): Promise<Reply> {
    const url = typeof path === 'string' ? this.url(path) : path;
    let res: Response;
    let body: Buffer;
    try {
      res = await fetch(url, { method, headers: opts.headers, body: opts.body, redirect: 'follow' });
      body = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      // undici says only "terminated" or "fetch failed"; name the request and the cause.
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      throw new Error(`${method} ${url.pathname}${url.search} failed: ${String(err)}${cause}`, { cause: err });
    }
    const reply = { status: res.status, headers: res.headers, body, request: `${method} ${url.pathname}${url.search}`, jsonErrors: this.jsonErrors };
    checkWarnings(reply);
    return reply;
  }

  get(path: string | URL, headers?: Record<string, string>): Promise<Reply> {
    return this.send('GET', path, { headers });
  }

  head(path: string | URL, headers?: Record<string, string>): Promise<Reply> {
    return this.send('HEAD', path, { headers });
  }

  delete(path: string | URL): Promise<Reply> {
    return this.send('DELETE', path);
  }

  /** Resolves a `Location` header (absolute or relative, both allowed by the spec) against the base URL. */
  location(reply: Reply): URL {
    const loc = reply.headers.get('location');
    assert.ok(loc, `${reply.request} → ${reply.status} has no Location header`);
    return this.url(loc);
  }
}

/**
 * Spec "Warnings": any `Warning` header MUST be `299 - "<text>"` with no warn-date, and all of them
 * together at most 4096 bytes. Checked on every reply, since a registry may add them anywhere.
 */
function checkWarnings(reply: Reply): void {
  const all = reply.headers.get('warning');
  if (all === null) return;
  assert.ok(Buffer.byteLength(all) <= 4096, `more than 4096 bytes of Warning on ${reply.request}`);
  for (const w of all.match(/299 - "(?:[^"\\]|\\.)*"|[^,\s][^,]*/g) ?? [])
    assert.match(w.trim(), /^299 - "(?:[^"\\]|\\.)*"$/, `malformed Warning on ${reply.request}: ${w}`);
}

/** `location` with extra query parameters, keeping the ones the registry put there (they MAY be critical). */
export function withQuery(location: URL, params: Record<string, string>): URL {
  const url = new URL(location);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}

export function describe(reply: Reply): string {
  const text = reply.body.length > 500 ? reply.body.subarray(0, 500).toString() + '…' : reply.body.toString();
  return `${reply.request} → ${reply.status} ${text}`;
}

export function expectStatus(reply: Reply, ...statuses: number[]): void {
  assert.ok(statuses.includes(reply.status), `expected ${statuses.join(' or ')}: ${describe(reply)}`);
}

export function json<T = unknown>(reply: Reply): T {
  try {
    return JSON.parse(reply.body.toString('utf8')) as T;
  } catch {
    assert.fail(`body is not JSON: ${describe(reply)}`);
  }
}

/**
 * Asserts an error reply: its status and, when the body is JSON (always, for a target that promises it),
 * the spec's `{"errors":[{code,message,detail}]}` shape, every code from the spec's table, one among `codes`.
 */
export function expectError(reply: Reply, status: number, codes: readonly string[]): void {
  expectStatus(reply, status);
  const isJson = /\bjson\b/.test(reply.headers.get('content-type') ?? '');
  if (!isJson && !reply.jsonErrors) return;
  const body = json<{ errors?: Array<{ code?: unknown; message?: unknown }> }>(reply);
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `no errors array: ${describe(reply)}`);
  for (const e of body.errors) {
    assert.equal(typeof e.code, 'string', `error without a code: ${describe(reply)}`);
    assert.match(e.code as string, /^[A-Z_]+$/);
    assert.ok((SPEC_ERROR_CODES as readonly string[]).includes(e.code as string), `code ${String(e.code)} is not in the spec's table`);
    if (e.message !== undefined) assert.equal(typeof e.message, 'string');
  }
  const got = body.errors.map((e) => e.code as string);
  assert.ok(got.some((c) => codes.includes(c)), `expected one of ${codes.join(', ')}, got ${got.join(', ')}: ${describe(reply)}`);
}

/** The `<url>` of a `Link: <url>; rel="next"` header (RFC 5988), or null when there is none. */
export function nextLink(reply: Reply): string | null {
  const link = reply.headers.get('link');
  if (!link) return null;
  const m = /<([^>]*)>\s*;\s*rel="?next"?/.exec(link);
  assert.ok(m, `Link header without rel="next": ${link}`);
  return m[1];
}
