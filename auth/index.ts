import { readFile } from 'node:fs/promises';
import type { StorageDriver } from '../storage-drivers/types';
import { htpasswdController, openController, tokenController, type AccessController } from './controller';
import { Htpasswd, type SkippedEntry } from './htpasswd';
import { parseJwks } from './keys';
import { loadSigningMaterial } from './keystore';
import { NO_ACCESS, Policy, type PolicyConfig } from './policy';
import { FailureLimiter } from './rate-limit';
import { TokenIssuer } from './token-issue';
import { TokenServer } from './token-server';
import { TrustStore } from './trust';
import type { AuthLogger } from './types';
import { parseCertificateBundle, x509 } from './x509';

export * from './types';
export type { AccessController, AuthorizeOptions } from './controller';
export type { TokenRequest, TokenResponse } from './token-server';
export { TokenServer } from './token-server';
export { accessForRoute, CATALOG_ACCESS } from './request-access';
export { certificateUser, type CertificateUserField } from './certificate-user';

/** A warning names this many users of a format at most; a file of thousands stays one line. */
const MAX_NAMED_USERS = 20;

/** The `auth:` configuration (src/config/auth-schema.ts's output; declared here so auth/ imports nothing from src/). */
export interface AuthSettings {
  htpasswd?: { realm: string; path: string };
  token?: {
    realm?: string;
    service: string;
    issuer: string;
    rootcertbundle?: string;
    jwks?: string;
    server: {
      enabled: boolean;
      key?: string;
      certificate?: string;
      keydirectory?: string;
      keytype: 'rsa' | 'ec';
      expiration: number;
      refreshexpiration: number;
    };
  };
  /** Absent: every user of the htpasswd file may do everything (see createPolicy). */
  accesscontrol?: PolicyConfig;
  ratelimit: { maxfailures: number; window: number };
}

export interface Auth {
  controller: AccessController;
  /** The built-in token endpoint, when token mode uses it. */
  tokenServer?: TokenServer;
  /** Path the HTTP layer serves the token endpoint on. */
  tokenPath: string;
  /** Loads keys (generating them on first start); requests do it lazily otherwise. */
  ready(): Promise<void>;
}

export const TOKEN_PATH = '/auth/token';

export interface AuthDeps {
  logger: AuthLogger;
  /** Where a generated token signing key is kept (paths from src/oci/paths.ts); absent: memory only. */
  keyStorage?: {
    driver: StorageDriver;
    keyPath: string;
    certificatePath: string;
    /** storage.maintenance.readonly: the key is never written. */
    readOnly: boolean;
  };
  /**
   * Another name a pull of `repository` is decided on, if any (a mirror's local name: see
   * src/mirror/routing.ts pullAliasOf). The built-in token server grants pull on it as far as the
   * policy allows, for clients that ask a token for the name they pull and not for the challenge's
   * scope (docker's registry-mirrors).
   */
  pullAlias?: (repository: string) => string | undefined;
}

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    if (!p) {
      p = load();
      // A failed load (unreadable file) is retried by the next request rather than cached.
      p.catch(() => {
        p = undefined;
      });
    }
    return p;
  };
}

/**
 * Without an `accesscontrol` section, users Berth authenticates itself (htpasswd, for Basic mode or
 * the built-in token server) may do everything, as in Distribution and zot, whose configurations
 * carry no policy. Tokens of an external issuer keep deciding alone: the policy does not widen the
 * catalog they see.
 */
function createPolicy(settings: AuthSettings, logger: AuthLogger): Policy {
  if (settings.accesscontrol !== undefined) return new Policy(settings.accesscontrol);
  if (settings.htpasswd === undefined) return new Policy(NO_ACCESS);
  logger.warn({ htpasswd: settings.htpasswd.path }, 'no auth.accesscontrol: every authenticated user may pull, push and delete every repository');
  return new Policy(null);
}

export function createAuth(settings: AuthSettings, deps: AuthDeps): Auth {
  const { logger } = deps;
  const policy = createPolicy(settings, logger);
  const limiter = new FailureLimiter(settings.ratelimit.maxfailures, settings.ratelimit.window);
  const htpasswd = settings.htpasswd ? new Htpasswd(settings.htpasswd.path, htpasswdLoaded(settings.htpasswd.path, logger)) : undefined;
  const token = settings.token;
  if (!token) {
    if (!htpasswd) return { controller: openController(), tokenPath: TOKEN_PATH, ready: async () => {} };
    return {
      controller: htpasswdController({ htpasswd, policy, limiter, realm: settings.htpasswd!.realm, logger }),
      tokenPath: TOKEN_PATH,
      ready: async () => {
        await htpasswd.has('');
      },
    };
  }

  const server = token.server;
  const material = once(async () => {
    const trust = new TrustStore();
    if (token.rootcertbundle) for (const cert of parseCertificateBundle(await readFile(token.rootcertbundle, 'utf8'))) await trust.addCertificate(cert);
    if (token.jwks) for (const { kid, jwk } of parseJwks(await readFile(token.jwks, 'utf8'))) await trust.addKey(jwk, kid);
    if (!server.enabled) return { trust, issuer: undefined };
    const ks = deps.keyStorage;
    const storage = ks && { ...ks, legacyDirectory: server.keydirectory };
    const signing = await loadSigningMaterial({ key: server.key, certificate: server.certificate, storage, keytype: server.keytype });
    if (signing.generated) logger.info({ key: signing.origin }, 'generated a token signing key');
    else if (signing.migrated)
      logger.warn({ from: signing.origin, to: ks!.readOnly ? '(read-only: not copied)' : ks!.keyPath }, 'token signing key migrated from auth.token.server.keydirectory into storage');
    await trust.addCertificate(new x509.X509Certificate(signing.certificate));
    const issuer = new TokenIssuer(signing, {
      issuer: token.issuer,
      service: token.service,
      expiresInSeconds: Math.max(1, Math.round(server.expiration / 1000)),
      refreshExpiresInSeconds: Math.max(1, Math.round(server.refreshexpiration / 1000)),
    });
    return { trust, issuer };
  });
  const controller = tokenController({
    trust: async () => (await material()).trust,
    policy,
    limiter,
    realm: token.realm,
    service: token.service,
    issuer: token.issuer,
    logger,
  });
  const tokenServer = server.enabled
    ? new TokenServer({
        htpasswd,
        policy,
        limiter,
        service: token.service,
        realm: settings.htpasswd?.realm ?? 'berth',
        material: async () => {
          const m = await material();
          return { trust: m.trust, issuer: m.issuer! };
        },
        logger,
        pullAlias: deps.pullAlias,
      })
    : undefined;
  return {
    controller,
    tokenServer,
    tokenPath: TOKEN_PATH,
    ready: async () => {
      // The token server's users: a missing file stops start-up as in htpasswd mode.
      await htpasswd?.has('');
      await material();
    },
  };
}

/**
 * Logs each (re)load; entries that are not bcrypt are warned of by format, with their users: such
 * a user can never log in, and `htpasswd` without `-B` writes them without a word.
 */
function htpasswdLoaded(path: string, logger: AuthLogger) {
  return (info: { users: number; rejected: number; skipped: SkippedEntry[] }) => {
    logger.info({ path, users: info.users, rejected: info.rejected }, 'htpasswd loaded');
    const byFormat = new Map<string, string[]>();
    for (const { user, format } of info.skipped) byFormat.set(format, [...(byFormat.get(format) ?? []), user]);
    for (const [format, users] of byFormat) {
      const named = users.filter((u) => u !== '');
      logger.warn(
        { path, format, entries: users.length, users: named.slice(0, MAX_NAMED_USERS) },
        `htpasswd: skipped ${users.length} ${users.length === 1 ? 'entry' : 'entries'} in format ${format}: only bcrypt is accepted (htpasswd -B)`,
      );
    }
  };
}
