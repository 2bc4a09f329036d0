/** One resource and the actions on it, as in a Docker token's `access` claim. */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** What authorize() needs of a request; src/http adapts node's request to it. */
export interface RequestLike {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  /** The client's address, for rate limiting and logs. */
  remote: string;
  /**
   * The user a client certificate verified in the TLS handshake names (`http.tls.clientidentity`);
   * never taken from a header. Credentials sent with the request win over it.
   */
  certificateUser?: string;
}

/** Who is asking: a user name and its groups, or nobody (anonymous). */
export interface Identity {
  user: string | null;
}

/** The outcome of a successful authorize(). */
export interface Grant {
  /** The authenticated user, or null for an anonymous request. */
  subject: string | null;
  /** Whether this request may perform `action` on the resource (e.g. pull on a mount's source). */
  allows(type: string, name: string, action: string): boolean;
  /** Whether the caller may see `repository` in a filtered catalog. */
  canList(repository: string): boolean;
}

/** Minimal logger surface (pino's), so auth/ depends on no logging library. */
export interface AuthLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** 401: the client must (re-)authenticate; `header` is the WWW-Authenticate value. */
export class Challenge extends Error {
  readonly status = 401;
  constructor(
    readonly header: string,
    message = 'authentication required',
  ) {
    super(message);
    this.name = 'Challenge';
  }
}

/** 403: authenticated, but the policy does not allow what was asked. */
export class AccessDenied extends Error {
  readonly status = 403;
  constructor(message = 'requested access to the resource is denied') {
    super(message);
    this.name = 'AccessDenied';
  }
}

/** 429: too many failed attempts from this client. */
export class TooManyAttempts extends Error {
  readonly status = 429;
  constructor(readonly retryAfterSeconds: number) {
    super('too many failed authentication attempts');
    this.name = 'TooManyAttempts';
  }
}

export const ACTIONS = ['pull', 'push', 'delete'] as const;
export type Action = (typeof ACTIONS)[number];

/**
 * A file the auth set-up needs (the htpasswd file) cannot be read, at start-up or after: no request
 * can be authorised until it is fixed, so it fails closed. `key` is the configuration key naming it.
 */
export class AuthSetupError extends Error {
  constructor(
    readonly key: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${key}: ${message}`, options);
    this.name = 'AuthSetupError';
  }
}
