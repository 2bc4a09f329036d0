import type { IncomingMessage } from 'node:http';
import type { CertificateUserField, TokenServer } from '../../auth';
import { DomainError } from '../oci/errors';
import { requestLike } from './auth-adapter';
import { sendJson, type RouteContext } from './context';
import type { EdgeRoutes } from './router';

/** A token request's form holds a few credentials and scopes; anything larger is refused unread. */
export const FORM_LIMIT = 16 * 1024;

function tooLarge(): DomainError {
  return new DomainError('too-large', { limit: FORM_LIMIT }, `request body larger than ${FORM_LIMIT} bytes`);
}

/**
 * The urlencoded body of a POST, read up to FORM_LIMIT bytes. A body of another type carries no
 * fields (the token server then names what is missing).
 */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return new URLSearchParams();
  if (Number(req.headers['content-length']) > FORM_LIMIT) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > FORM_LIMIT) throw tooLarge();
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks, size).toString('utf8'));
}

/** GET and POST on the token endpoint (Docker token spec; OAuth2 form for POST). */
export function tokenRoutes(server: TokenServer, path: string, clientIdentity?: CertificateUserField): NonNullable<EdgeRoutes['token']> {
  const handle = async (ctx: RouteContext) => {
    const result = await server.handle({
      ...requestLike(ctx.req, clientIdentity),
      query: ctx.query,
      form: ctx.req.method === 'POST' ? await readForm(ctx.req) : undefined,
    });
    sendJson(ctx.res, result.status, result.body, result.headers);
  };
  return { path, methods: { GET: handle, HEAD: handle, POST: handle } };
}
