import { z } from 'zod';
import { duration } from './duration';
import { parseListenAddress } from './listen-address';

/**
 * Distribution's `redis` section: a Redis (or Valkey) that every replica and every worker shares
 * as its cache of what storage says (docs/architecture.md, "Shared cache (Redis)"). Unset: none.
 */
export const redisSchema = z
  .object({
    /** host:port, or the path of a unix socket (starting with /). */
    addr: z.string().min(1),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    db: z.number().int().min(0).default(0),
    /** How long connecting may take before Redis counts as down. */
    dialtimeout: duration.default('1s'),
    /** How long a read may wait for Redis before the request goes to storage instead. */
    readtimeout: duration.default('200ms'),
    /** How long an invalidation may wait for Redis before it counts as failed (see `ttl`). */
    writetimeout: duration.default('500ms'),
    /**
     * Berth: every entry expires this long after it was stored. It bounds how long a fact may be
     * served after a write that could not reach Redis (Redis down or cut off during the write).
     */
    ttl: duration.default('60s'),
    /** Bodies of manifests larger than this stay in each process's own cache only. */
    maxmanifestbytes: z.number().int().min(0).default(256 * 1024),
    /**
     * Accepted for Distribution compatibility: node-redis pipelines every command of a process over
     * one connection, so there is no pool to size.
     */
    pool: z
      .object({ maxidle: z.number().int().min(0).optional(), maxactive: z.number().int().min(0).optional(), idletimeout: duration.optional() })
      .strict()
      .optional(),
    tls: z
      .object({
        enabled: z.boolean().default(true),
        /** PEM client certificate and key, for a Redis that asks for one. */
        certificate: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        /** PEM CA bundles that sign Redis's certificate; unset: the system's. */
        clientcas: z.array(z.string().min(1)).min(1).optional(),
      })
      .strict()
      .superRefine((t, ctx) => {
        if ((t.certificate === undefined) !== (t.key === undefined))
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: [t.certificate === undefined ? 'certificate' : 'key'], message: 'certificate and key go together' });
      })
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (!r.addr.startsWith('/'))
      try {
        if (parseListenAddress(r.addr, 'addr').host === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['addr'], message: 'name the host, e.g. localhost:6379' });
      } catch (e) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['addr'], message: (e as Error).message });
      }
    if (r.ttl < 1000) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['ttl'], message: 'must be at least 1s' });
    if (r.addr.startsWith('/') && r.tls?.enabled) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['tls'], message: 'has no effect on a unix socket' });
  });

export type RedisConfig = z.output<typeof redisSchema>;
