import { z } from 'zod';
import { authSchema } from './auth-schema';
import { duration } from './duration';
import { hostPort } from './listen-address';
import { mirrorSettingsSchema, mirrorsSchema, proxySchema, proxyWithMirrors } from './mirror-schema';
import { notificationsSchema } from './notifications-schema';
import { insightSchema } from './insight-schema';
import { redisSchema } from './redis-schema';
import { tlsSchema } from './tls-schema';
import { uiSchema } from './ui-schema';
import { parseProxyEntry } from '../http/client-address';

/** See storage.maintenance.gc.quietperiod. */
const MAX_QUIET_PERIOD_MS = 60_000;

/**
 * Berth's configuration, shaped like Distribution's config.yml where the concepts match.
 * Every object is strict: an unknown key stops start-up with a message naming it.
 * Durations accept Go-style strings ("168h", "90s", "1h30m") or plain milliseconds.
 */


const filesystemStorage = z
  .object({
    rootdirectory: z.string().min(1).default('./data'),
    /** Accepted for Distribution compatibility; Berth's I/O runs on libuv's pool. */
    maxthreads: z.number().int().positive().optional(),
  })
  .strict();

const inmemoryStorage = z.object({}).strict();

const MiB = 1024 * 1024;
const bytes = (min: number, max: number) => z.number().int().min(min).max(max);

/** Distribution's `storage.s3` keys, plus Berth's `publicendpoint` (for presigned redirects) and timeouts. */
const s3Storage = z
  .object({
    bucket: z.string().min(1),
    region: z.string().min(1).default('us-east-1'),
    regionendpoint: z.string().min(1).optional(),
    publicendpoint: z.string().min(1).optional(),
    forcepathstyle: z.boolean().default(false),
    rootdirectory: z.string().default(''),
    accesskey: z.string().min(1).optional(),
    secretkey: z.string().min(1).optional(),
    sessiontoken: z.string().min(1).optional(),
    secure: z.boolean().default(true),
    /** Accepted for Distribution compatibility: the SDK always signs with SigV4. */
    v4auth: z.boolean().optional(),
    chunksize: bytes(5 * MiB, 5 * 1024 * MiB).default(10 * MiB),
    multipartcopythresholdsize: bytes(0, 5 * 1024 * MiB).default(32 * MiB),
    multipartcopychunksize: bytes(5 * MiB, 5 * 1024 * MiB).default(32 * MiB),
    multipartcopymaxconcurrency: z.number().int().min(1).max(10_000).default(100),
    encrypt: z.boolean().default(false),
    keyid: z.string().min(1).optional(),
    storageclass: z.string().min(1).default('STANDARD'),
    /** Berth: bound of one S3 request; blob transfers fail only after this long without progress. */
    requesttimeout: duration.default('30s'),
    /** Berth: bound of establishing a connection to the endpoint. */
    connecttimeout: duration.default('5s'),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.accesskey === undefined) !== (s.secretkey === undefined))
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [s.accesskey === undefined ? 'accesskey' : 'secretkey'], message: 'accesskey and secretkey go together' });
  });

const storage = z
  .object({
    filesystem: filesystemStorage.optional(),
    inmemory: inmemoryStorage.nullable().optional(),
    s3: s3Storage.optional(),
    delete: z.object({ enabled: z.boolean().default(true) }).strict().default({}),
    redirect: z.object({ disable: z.boolean().default(false) }).strict().default({}),
    /**
     * What reads may answer from memory. Manifest bodies are content-addressed and always cached;
     * `ttl` bounds how long a tag's digest, a repository's links and tag lists read from storage
     * are reused, i.e. how long a replica may serve what another replica has since changed. Writes
     * through the same process are seen at once. Unset: 1s when this process owns its storage, 0
     * (always re-read) when replicas may share it (S3, or http.secret set).
     */
    cache: z
      .object({
        /** Accepted for Distribution compatibility; Berth's cache is always in memory. */
        blobdescriptor: z.enum(['inmemory']).optional(),
        ttl: duration.optional(),
      })
      .strict()
      .default({}),
    /**
     * Whether each upload's running sha256 is saved beside its data after every PATCH, so that a
     * commit on another replica, or after a restart, need not read the data back (docs/architecture.md,
     * "Uploads"). auto: on S3 with http.secret set, where reading back costs a full download; on a
     * local filesystem reading back is cheaper than the slower resumable hash on every byte.
     */
    uploads: z
      .object({
        hashstate: z.enum(['auto', 'on', 'off']).default('auto'),
        /**
         * Below this many bytes an upload's state is not saved: reading that much back at a commit
         * elsewhere costs less than a storage write at every PATCH (docker sends a layer in one).
         */
        hashstateminsize: bytes(0, 5 * 1024 * MiB).default(8 * MiB),
      })
      .strict()
      .default({}),
    maintenance: z
      .object({
        uploadpurging: z
          .object({
            enabled: z.boolean().default(true),
            age: duration.default('168h'),
            interval: duration.default('24h'),
            dryrun: z.boolean().default(false),
          })
          .strict()
          .default({}),
        readonly: z.object({ enabled: z.boolean().default(false) }).strict().default({}),
        /** Online garbage collection inside the server (the same as `berth gc`), off by default. */
        gc: z
          .object({
            enabled: z.boolean().default(false),
            interval: duration.default('24h'),
            grace: duration.default('1h'),
            /**
             * How long a sweep waits after announcing itself before it re-reads what pushes linked:
             * writes landing within half of it since their last read of the sweep state need no
             * second read (one S3 request and round trip fewer per push). Also used by `berth gc`.
             * At most 60 s: a push that references what the sweep may delete waits for it, up to
             * 90 s before answering 503, and the sweep spends at least this long before deleting.
             */
            quietperiod: duration
              .refine((ms) => ms <= MAX_QUIET_PERIOD_MS, 'at most 60s: pushes that reference what a collection may delete wait for it, and answer 503 after 90s')
              .default('15s'),
            deleteuntagged: z.boolean().default(false),
            dryrun: z.boolean().default(false),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    const drivers = (['filesystem', 'inmemory', 's3'] as const).filter((k) => s[k] !== undefined);
    if (drivers.length > 1)
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `only one storage driver may be configured, found: ${drivers.join(', ')}` });
  })
  .transform((s) => {
    const driver: 'filesystem' | 'inmemory' | 's3' = s.inmemory !== undefined ? 'inmemory' : s.s3 !== undefined ? 's3' : 'filesystem';
    return { ...s, driver, filesystem: s.filesystem ?? { rootdirectory: './data' } };
  });

const http = z
  .object({
    /** host:port, :port, or [v6]:port. */
    addr: hostPort(':5000').default(':5000'),
    /** External base URL (scheme://host[:port]) used in Location headers instead of the request's Host. */
    host: z.string().url().optional(),
    /** HMAC secret for upload `_state`; every replica sharing a store must use the same one. */
    secret: z.string().min(16, 'must be at least 16 characters').optional(),
    relativeurls: z.boolean().default(false),
    /**
     * Berth: addresses or CIDRs of proxies (an ingress, a load balancer) whose X-Forwarded-For is
     * believed for who the client is: for login rate limits, the access log and event `addr`.
     */
    trustedproxies: z.array(z.string().refine((e) => parseProxyEntry(e) !== null, 'must be an IP address or a CIDR such as 10.0.0.0/8')).default([]),
    headers: z.record(z.string(), z.array(z.string())).default({}),
    /** Time to let requests in flight finish after SIGTERM. */
    draintimeout: duration.default('30s'),
    /**
     * A connection that moves no bytes for this long is closed, so a client that stops sending a
     * body it announced cannot hold a request open forever (request time itself is unlimited).
     */
    idletimeout: duration.default('5m'),
    /** A second listener for /metrics, never behind registry auth (Distribution's http.debug). */
    debug: z
      .object({
        addr: hostPort(':5001').optional(),
        /** Berth: the debug listener's own TLS, with the same keys as http.tls. */
        tls: tlsSchema.optional(),
      })
      .strict()
      .superRefine((d, ctx) => {
        if (d.tls !== undefined && d.addr === undefined)
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['tls'], message: 'has no effect without http.debug.addr' });
        if (d.tls?.clientidentity !== undefined)
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['tls', 'clientidentity'], message: 'the debug listener has no access control, so a certificate names no user there' });
      })
      .default({}),
    /** Idle keep-alive time for client connections; Node's 5 s default makes clients reconnect. */
    keepalivetimeout: duration.default('75s'),
    tls: tlsSchema.optional(),
    /** Distribution's key: with TLS, HTTP/2 is offered in ALPN beside HTTP/1.1 unless disabled. */
    http2: z.object({ disabled: z.boolean().default(false) }).strict().default({}),
    /**
     * Berth: processes serving the one listening address (docs/architecture.md, "Workers"); 1 is a
     * single process. Unset: the CPUs available to the process, or 1 on in-memory storage.
     */
    workers: z.number().int().min(1).max(1024).optional(),
  })
  .strict()
  .default({});

const log = z
  .object({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    // logstash: Distribution's third formatter, accepted so its files load; written as json.
    formatter: z.enum(['json', 'text', 'logstash']).default('json'),
    accesslog: z.object({ disabled: z.boolean().default(false) }).strict().default({}),
    fields: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .default({});

const validation = z
  .object({
    disabled: z.boolean().default(false),
    manifests: z
      .object({
        /** Largest manifest accepted, in bytes (413 beyond). */
        maxsize: z.number().int().positive().default(4 * 1024 * 1024),
        /**
         * Most `layers` plus `manifests` entries in one manifest. Each is checked in storage on push,
         * so this bounds the work one PUT can ask for; Docker caps images at 127 layers.
         */
        maxdescriptors: z.number().int().positive().default(10_000),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});

/** Every key and its checks; `configSchemaFor` adds the defaults that depend on the machine. */
const checkedSchema = z
  .object({
    version: z.union([z.string(), z.number()]).default('0.1'),
    log,
    storage: storage.default({}),
    http,
    validation,
    auth: authSchema,
    notifications: notificationsSchema,
    proxy: proxySchema,
    mirrors: mirrorsSchema,
    mirror: mirrorSettingsSchema,
    redis: redisSchema.optional(),
    insight: insightSchema,
    ui: uiSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    proxyWithMirrors(c, ctx);
    // A bucket is shared storage by nature: every replica must sign upload state with one secret,
    // and a random per-process one would break uploads that cross replicas. Refuse it up front.
    if (c.storage.driver === 's3' && c.http.secret === undefined)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['http', 'secret'],
        message: 'required with s3 storage: every replica sharing the bucket must use the same secret',
      });
    // Each worker would hold its own store: a tag pushed through one would be unknown to the others.
    if (c.storage.driver === 'inmemory' && c.http.workers !== undefined && c.http.workers > 1)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['http', 'workers'], message: 'must be 1 with inmemory storage: each worker would hold a store of its own' });
    // Only the policy uses the certificate's user: Basic mode asks it per request, the built-in token
    // server when it issues. An external issuer's tokens decide alone, and with no auth all is open.
    const identityUsed = c.auth.token ? c.auth.token.server.enabled : c.auth.htpasswd !== undefined;
    if (c.http.tls?.clientidentity !== undefined && !identityUsed)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['http', 'tls', 'clientidentity'],
        message: 'has no effect without auth.htpasswd or the built-in token server (auth.token.server): nothing would use the user it names',
      });
  });

/**
 * The schema with `http.workers` defaulting to `cpus` (cpu-limit.ts measures them at start-up),
 * or to 1 on in-memory storage.
 */
export function configSchemaFor(cpus: number) {
  return checkedSchema.transform((c) => ({ ...c, http: { ...c.http, workers: c.http.workers ?? (c.storage.driver === 'inmemory' ? 1 : cpus) } }));
}

/** For a server built in this process (tests, tools): it is one process, whatever the machine. */
export const configSchema = configSchemaFor(1);

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
