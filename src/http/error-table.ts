import { AccessDenied, AuthSetupError, Challenge, TooManyAttempts } from '../../auth';
import { DomainError, type DomainErrorKind, type DomainFacts } from '../oci/errors';
import { InsightError, type InsightErrorKind } from '../insight/insight-error';
import { faultMessage, type StorageFault, type StorageFaultKind } from '../storage-faults';
import { uploadRange } from './ranges';

/**
 * The OCI error codes with their usual status (distribution-spec "Error Codes", plus the two codes
 * Distribution registers that clients know). The spec says codes MUST come from its list; UNAVAILABLE
 * and UNKNOWN cover what it does not. Storage faults are UNAVAILABLE (507 for a full disk): a code of
 * their own would reach users of Docker and containerd as "unknown".
 */
export const OCI_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 404, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type OciCode = keyof typeof OCI_CODES;

/** How one kind of error is answered; status defaults to the code's. */
export interface Rule<F> {
  code: OciCode;
  status?: number;
  headers?: (facts: F) => Record<string, string>;
  /** The body's `detail`; the facts themselves when absent (none when they are empty). */
  detail?: (facts: F) => unknown;
}

/** What a client is told: the spec's error body, with its status and headers. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  error: { code: OciCode; message: string; detail?: unknown };
}

const NONE = () => undefined;

/** The size an upload session holds, once known. */
function uploadRangeHeader(f: { offset?: number }): Record<string, string> {
  return f.offset === undefined ? {} : { Range: uploadRange(f.offset) };
}

/** Every domain error the registry raises, as the client sees it. */
export const DOMAIN_RULES: { [K in DomainErrorKind]: Rule<DomainFacts[K]> } = {
  'blob-unknown': { code: 'BLOB_UNKNOWN' },
  'digest-invalid': { code: 'DIGEST_INVALID' },
  'size-invalid': { code: 'SIZE_INVALID' },
  'too-large': { code: 'SIZE_INVALID', status: 413 },
  'manifest-invalid': { code: 'MANIFEST_INVALID' },
  'manifest-unknown': { code: 'MANIFEST_UNKNOWN' },
  'manifest-blob-unknown': { code: 'MANIFEST_BLOB_UNKNOWN' },
  'name-invalid': { code: 'NAME_INVALID' },
  'name-unknown': { code: 'NAME_UNKNOWN' },
  'upload-unknown': { code: 'BLOB_UPLOAD_UNKNOWN' },
  'upload-state-invalid': { code: 'BLOB_UPLOAD_INVALID' },
  'upload-changed': { code: 'BLOB_UPLOAD_INVALID', status: 400 },
  // The upload route adds the session's Location and Docker-Upload-UUID, which only it can build.
  'upload-range-invalid': {
    code: 'BLOB_UPLOAD_INVALID',
    status: 416,
    headers: uploadRangeHeader,
    detail: (f) => (f.contentRange !== undefined ? { contentRange: f.contentRange } : { offset: f.offset }),
  },
  // As a chunk that does not continue the upload (the spec's 416 with the Range), since it cannot:
  // the other request is still moving the end. Clients resume from the Range or start over.
  'upload-busy': { code: 'BLOB_UPLOAD_INVALID', status: 416, headers: uploadRangeHeader },
  'range-not-satisfiable': { code: 'UNSUPPORTED', status: 416, headers: (f) => ({ 'Content-Range': `bytes */${f.size}` }) },
  'route-unknown': { code: 'UNSUPPORTED', status: 404 },
  'method-not-allowed': { code: 'UNSUPPORTED', headers: (f) => ({ Allow: f.allow.join(', ') }), detail: (f) => ({ method: f.method }) },
  // As in Distribution, whose read-only routes do not register their write methods: a 405 whose
  // Allow lists the reads the route still takes.
  'read-only': { code: 'UNSUPPORTED', headers: (f) => ({ Allow: f.allow.join(', ') }), detail: NONE },
  'deletes-disabled': { code: 'UNSUPPORTED' },
  'parameter-invalid': { code: 'UNSUPPORTED', status: 400 },
  // As an unknown route: with insight off the routes do not exist, whoever asks.
  'insight-disabled': { code: 'UNSUPPORTED', status: 404 },
  'collection-conflict': { code: 'UNAVAILABLE', headers: () => ({ 'Retry-After': '10' }) },
  'events-backlog-full': { code: 'UNAVAILABLE', headers: () => ({ 'Retry-After': '30' }) },
  // A pull-through mirror without a cached copy: the upstream's trouble, told as such, with the
  // upstream's own Retry-After when it sent one (docs/architecture.md "Mirror: serving pulls").
  'upstream-unavailable': { code: 'UNAVAILABLE', headers: (f) => ({ 'Retry-After': String(f.retryAfterSeconds ?? 10) }), detail: NONE },
  'upstream-rate-limited': { code: 'TOOMANYREQUESTS', headers: (f) => ({ 'Retry-After': String(f.retryAfterSeconds ?? 60) }), detail: NONE },
  'upstream-refused': { code: 'UNAVAILABLE', status: 502, detail: NONE },
  // DENIED, as an access refusal: the Docker engine prints its message ("denied: …") to the user.
  'secrets-denied': { code: 'DENIED' },
  'insight-pending': { code: 'UNAVAILABLE', headers: () => ({ 'Retry-After': '10' }) },
};

/**
 * How each kind of storage fault is answered. A full disk or quota will not heal by itself, so it
 * gets 507 Insufficient Storage and no Retry-After; the others are 503 with a hint of when to retry
 * (a read-only mount is usually maintenance, running out of descriptors passes with the load, an
 * unreachable object store is usually restarting or failing over, back within seconds).
 */
export const FAULT_RULES: Record<StorageFaultKind, Rule<StorageFault>> = {
  full: { code: 'UNAVAILABLE', status: 507 },
  'read-only': { code: 'UNAVAILABLE', headers: () => ({ 'Retry-After': '60' }) },
  busy: { code: 'UNAVAILABLE', headers: () => ({ 'Retry-After': '1' }) },
  io: { code: 'UNAVAILABLE', headers: () => ({ 'Retry-After': '30' }) },
  unavailable: { code: 'UNAVAILABLE', headers: () => ({ 'Retry-After': '10' }) },
};

/**
 * Image insight's own errors, when one reaches a request (docs/architecture.md, "Image insight: the
 * report and its API"). The scan's kinds are recorded as a layer's outcome and never thrown at a
 * request; `file-list-corrupt` is: a stored record or file list that does not decode. That is the
 * server's stored data failing, not the client's request nor an unforeseen bug, so it is answered as
 * storage trouble is (UNAVAILABLE), naming the layer, with `detail.cause` the kind, and logged. No
 * Retry-After: it does not heal by waiting; removing the layer's analysis has it analysed again.
 */
export const INSIGHT_RULES: Record<InsightErrorKind, Rule<InsightError>> = {
  'file-list-corrupt': { code: 'UNAVAILABLE', detail: (e) => ({ cause: e.kind }) },
  'layer-corrupt': { code: 'UNAVAILABLE', detail: (e) => ({ cause: e.kind }) },
  'media-type-unsupported': { code: 'UNAVAILABLE', detail: (e) => ({ cause: e.kind }) },
  'compression-unavailable': { code: 'UNAVAILABLE', detail: (e) => ({ cause: e.kind }) },
};

/**
 * auth/'s refusals: 401 with its challenge, 403, 429 with Retry-After; and its set-up failing (an
 * htpasswd file gone): a 500 that says so, its cause in the server's log (docs/auth.md).
 */
export const AUTH_RULES = {
  setup: { code: 'UNKNOWN', detail: NONE },
  challenge: { code: 'UNAUTHORIZED', headers: (e: Challenge) => ({ 'WWW-Authenticate': e.header }), detail: NONE },
  denied: { code: 'DENIED', detail: NONE },
  tooMany: { code: 'TOOMANYREQUESTS', headers: (e: TooManyAttempts) => ({ 'Retry-After': String(e.retryAfterSeconds) }), detail: NONE },
} satisfies Record<string, Rule<never>>;

/** Which file and why stay in the log: a client can do nothing about either. */
const AUTH_SETUP_MESSAGE = 'authentication is unavailable: the registry failed to load its auth configuration (see its log)';

const UNKNOWN: Answer = { status: 500, headers: {}, error: { code: 'UNKNOWN', message: OCI_CODES.UNKNOWN.message } };

function apply<F>(rule: Rule<F>, facts: F, message: string | undefined, defaultDetail: unknown): Answer {
  const detail = rule.detail ? rule.detail(facts) : defaultDetail;
  const error = { code: rule.code, message: message ?? OCI_CODES[rule.code].message };
  return {
    status: rule.status ?? OCI_CODES[rule.code].status,
    headers: rule.headers ? rule.headers(facts) : {},
    error: detail === undefined ? error : { ...error, detail },
  };
}

function hasKeys(facts: object): boolean {
  for (const _ in facts) return true;
  return false;
}

/** A storage fault's answer: UNAVAILABLE naming its cause, `detail` the errno or S3 code. */
export function faultAnswer(fault: StorageFault): Answer {
  return apply(FAULT_RULES[fault.kind], fault, faultMessage(fault), { cause: fault.code });
}

/** The answer to any error a handler threw that is not a storage fault; anything unforeseen is a 500. */
export function answerFor(err: unknown): Answer {
  if (err instanceof DomainError) {
    // instanceof narrows to DomainError<any>; name the kind union so the facts stay typed.
    const e = err as DomainError;
    const rule = DOMAIN_RULES[e.kind] as Rule<unknown>;
    return apply(rule, e.facts, e.reason, hasKeys(e.facts) ? e.facts : undefined);
  }
  if (err instanceof InsightError) return apply(INSIGHT_RULES[err.kind], err, err.message, undefined);
  if (err instanceof Challenge) return apply(AUTH_RULES.challenge, err, undefined, undefined);
  if (err instanceof AccessDenied) return apply(AUTH_RULES.denied, err, undefined, undefined);
  if (err instanceof TooManyAttempts) return apply(AUTH_RULES.tooMany, err, undefined, undefined);
  if (err instanceof AuthSetupError) return apply(AUTH_RULES.setup, err, AUTH_SETUP_MESSAGE, undefined);
  return UNKNOWN;
}

/** Every code and status the table can answer with (the docs test checks docs/api.md against it). */
export function answeredStatuses(): Array<{ code: OciCode; status: number }> {
  const rules: Rule<never>[] = [...Object.values(DOMAIN_RULES), ...Object.values(FAULT_RULES), ...Object.values(INSIGHT_RULES), ...Object.values(AUTH_RULES)] as Rule<never>[];
  return [...rules, { code: 'UNKNOWN' } as Rule<never>].map((r) => ({ code: r.code, status: r.status ?? OCI_CODES[r.code].status }));
}
