import { z } from 'zod';
import { duration } from './duration';

/**
 * `auth:` — Distribution's `auth.htpasswd` / `auth.token` sections plus Berth's built-in token server
 * and a zot-style `accesscontrol` policy (keys lower-cased, as everywhere in this config).
 * Mode: `token` when `auth.token` is present, else `htpasswd` when `auth.htpasswd` is, else none.
 */

/** pull/push/delete; zot's read/create/update are accepted as aliases (create and update are push). */
const ACTION_ALIASES: Record<string, 'pull' | 'push' | 'delete'> = {
  pull: 'pull',
  read: 'pull',
  push: 'push',
  create: 'push',
  update: 'push',
  delete: 'delete',
};
const actions = z
  .array(z.enum(['pull', 'push', 'delete', 'read', 'create', 'update']))
  .default([])
  .transform((list) => [...new Set(list.map((a) => ACTION_ALIASES[a]))]);

const names = z.array(z.string().min(1)).default([]);

const policy = z.object({ users: names, groups: names, actions }).strict();

const repositoryRule = z
  .object({
    policies: z.array(policy).default([]),
    /** Actions for every authenticated user. */
    defaultpolicy: actions,
    /** Actions for clients that present no credentials (authenticated users get them too). */
    anonymouspolicy: actions,
  })
  .strict();

const accessControl = z
  .object({
    groups: z.record(z.string(), z.object({ users: names }).strict()).default({}),
    /** Repository glob → rule. `*` stays within one path component, `**` crosses them; the most specific (longest) matching glob wins. */
    repositories: z.record(z.string().min(1), repositoryRule).default({}),
    /** Users and groups with these actions on every repository (and the full catalog). */
    adminpolicy: policy.default({}),
    /** Users and groups who may list the whole catalog; everyone else sees only what they may pull. */
    catalog: z.object({ users: names, groups: names }).strict().default({}),
  })
  .strict();

const htpasswd = z
  .object({
    realm: z.string().min(1).default('berth'),
    /** bcrypt entries ($2y$, $2a$, $2b$) only; the file is re-read when it changes. */
    path: z.string().min(1),
  })
  .strict();

const tokenServer = z
  .object({
    enabled: z.boolean().default(true),
    /** PEM private key (RSA or EC P-256) and its certificate; both generated when neither is set. */
    key: z.string().min(1).optional(),
    certificate: z.string().min(1).optional(),
    /**
     * Deprecated: where Berth before 0.2 kept a generated pair. Read once, when storage has no key
     * yet, and migrated into storage (`/berth/auth/token.key`), where generated keys now live.
     */
    keydirectory: z.string().min(1).optional(),
    /** Algorithm of a generated key. */
    keytype: z.enum(['rsa', 'ec']).default('rsa'),
    expiration: duration.default('5m'),
    refreshexpiration: duration.default('720h'),
  })
  .strict()
  .default({});

const token = z
  .object({
    /** The token endpoint clients are sent to; default `<this registry>/auth/token` when the built-in server is enabled. */
    realm: z.string().url().optional(),
    /** Expected `aud` of tokens (and the `service` clients ask for). */
    service: z.string().min(1).default('berth'),
    /** Expected `iss` of tokens (and the `iss` the built-in server writes). */
    issuer: z.string().min(1).default('berth'),
    /** PEM certificates whose keys, and the x5c chains they anchor, are trusted to sign tokens. */
    rootcertbundle: z.string().min(1).optional(),
    /** A JWKS file of further trusted public keys. */
    jwks: z.string().min(1).optional(),
    server: tokenServer,
  })
  .strict();

export const authSchema = z
  .object({
    htpasswd: htpasswd.optional(),
    token: token.optional(),
    /** Absent: every htpasswd user may pull, push and delete everywhere (Distribution's and zot's behaviour). */
    accesscontrol: accessControl.optional(),
    ratelimit: z
      .object({
        /** Failed logins from one client within `window` before it is refused with 429 for `window`. */
        maxfailures: z.number().int().positive().default(10),
        window: duration.default('1m'),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.token && !a.token.server.enabled && !a.token.realm)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['token', 'realm'], message: 'required when the built-in token server is disabled' });
    if (a.token && !a.token.server.enabled && !a.token.rootcertbundle && !a.token.jwks)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['token', 'rootcertbundle'], message: 'an external issuer needs rootcertbundle or jwks' });
    if ((a.token?.server.key === undefined) !== (a.token?.server.certificate === undefined))
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['token', 'server', 'key'], message: 'key and certificate go together' });
  })
  .default({});

export type AuthConfig = z.output<typeof authSchema>;
export type AccessControlConfig = NonNullable<AuthConfig['accesscontrol']>;
