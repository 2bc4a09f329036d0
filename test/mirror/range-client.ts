import http from 'node:http';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The whole response arrived: a clean end, not a cut. */
  complete: boolean;
}

export interface GetOptions {
  /** The client goes away (destroys the request) once it has this many bytes of the body. */
  leaveAfter?: number;
  /** Called with the response's head, as soon as it arrives. */
  onHead?: (res: http.IncomingMessage) => void;
  /** Called with the body bytes received so far, each time more arrive. */
  onBytes?: (n: number) => void;
}

/** A GET on its own connection, read to its end or its cut. */
export function getBlob(url: string, headers: Record<string, string> = {}, opts: GetOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      opts.onHead?.(res);
      const parts: Buffer[] = [];
      let got = 0;
      res.on('data', (c: Buffer) => {
        parts.push(c);
        got += c.length;
        opts.onBytes?.(got);
        if (opts.leaveAfter !== undefined && got >= opts.leaveAfter) req.destroy();
      });
      res.on('error', () => undefined);
      // 'close' comes after the end, and after a cut or an error too (then `complete` is false).
      res.once('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), complete: res.complete }));
    });
    req.once('error', (err) => {
      if (opts.leaveAfter === undefined) reject(err);
    });
  });
}
