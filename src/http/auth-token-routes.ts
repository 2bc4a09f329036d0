import express, { type NextFunction, type Request, type Response } from 'express';
import type { TokenServer } from '../../auth';
import { requestLike } from './auth-adapter';

/** GET and POST on the token endpoint (Docker token spec; OAuth2 form for POST). */
export function tokenRoutes(server: TokenServer) {
  const router = express.Router();
  const form = express.text({ type: 'application/x-www-form-urlencoded', limit: '16kb' });
  const handle = async (req: Request, res: Response, next: NextFunction) => {
    try {
      const raw = req.originalUrl;
      const q = raw.indexOf('?');
      const result = await server.handle({
        ...requestLike(req),
        query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)),
        form: req.method === 'POST' ? new URLSearchParams(typeof req.body === 'string' ? req.body : '') : undefined,
      });
      const body = Buffer.from(JSON.stringify(result.body));
      res.status(result.status);
      for (const [k, v] of Object.entries(result.headers)) res.setHeader(k, v);
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Content-Length', body.length);
      res.end(body);
    } catch (err) {
      next(err);
    }
  };
  router.get('/', handle);
  router.post('/', form, handle);
  return router;
}
