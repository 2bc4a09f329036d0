import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, type Http2Stream } from 'node:http2';

/** The HTTP/2 stream under a compatibility-API response; undefined for HTTP/1. */
function h2Stream(res: ServerResponse): Http2Stream | undefined {
  return (res as unknown as { stream?: Http2Stream }).stream;
}

/** Whether the response is over: sent, or cut short. */
export function responseClosed(res: ServerResponse): boolean {
  const stream = h2Stream(res);
  return stream ? stream.closed : res.closed;
}

/**
 * Whether the whole response was handed to the connection. An HTTP/2 compatibility response reports
 * writableFinished even for a stream the client reset, so there the reset code decides: NO_ERROR
 * only when both sides ended normally.
 */
export function responseCompleted(res: ServerResponse): boolean {
  const stream = h2Stream(res);
  return stream ? res.writableEnded && stream.closed && stream.rstCode === constants.NGHTTP2_NO_ERROR : res.writableFinished;
}

/** Whether the request came over HTTP/2, where connection-specific headers (Connection, Keep-Alive) are forbidden. */
export function isHttp2(res: ServerResponse): boolean {
  return h2Stream(res) !== undefined;
}

/**
 * Whether the request carries a body at all: a Content-Length above 0, else HTTP/1.1's chunked
 * encoding, or an HTTP/2 stream left open after its headers (HTTP/2 has no Transfer-Encoding: a
 * body of unknown length simply comes without Content-Length).
 */
export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  const stream = (req as unknown as { stream?: Http2Stream }).stream;
  return stream ? !stream.endAfterHeaders : req.headers['transfer-encoding'] !== undefined;
}
