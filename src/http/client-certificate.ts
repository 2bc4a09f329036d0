import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { certificateUser, type CertificateUserField } from '../../auth';

// Per connection: a keep-alive connection's requests parse its certificate once. null: it names no one.
const users = new WeakMap<TLSSocket, string | null>();

/**
 * The user the connection's client certificate names in `field` (http.tls.clientidentity), or
 * undefined. Only a certificate the handshake verified against http.tls.clientcas counts; headers
 * (X-Forwarded-*, X-SSL-Client-*) are never read, so a client cannot claim another's name.
 */
export function certificateUserOf(req: IncomingMessage, field: CertificateUserField | undefined): string | undefined {
  if (field === undefined) return undefined;
  const socket = req.socket as TLSSocket;
  if (socket.encrypted !== true || socket.authorized !== true) return undefined;
  let user = users.get(socket);
  if (user === undefined) {
    const raw = socket.getPeerCertificate()?.raw;
    user = raw === undefined ? null : (certificateUser(raw, field) ?? null);
    users.set(socket, user);
  }
  return user ?? undefined;
}
