/**
 * Storage faults: the failures that say the store itself cannot take writes (or, for file
 * descriptors and unreachable services, any work) right now, as opposed to a bug or a bad request.
 * Drivers pass them through untouched; the HTTP edge turns them into clear answers and readiness
 * tracks them (storage-health).
 */
export type FileFaultCode = 'ENOSPC' | 'EDQUOT' | 'EROFS' | 'EMFILE' | 'ENFILE' | 'EIO';

/**
 * An object store that cannot be reached or does not answer: a network errno, ETIMEDOUT for a
 * timeout, the S3 error code of a 5xx answer, or HTTP5xx when the answer had no body (HEAD).
 */
export type ServiceFaultCode = NetworkCode | 'ETIMEDOUT' | ServiceErrorCode | `HTTP${number}`;

export type StorageFaultCode = FileFaultCode | ServiceFaultCode;

/**
 * full: space or quota is gone; read-only: the mount refuses writes; busy: out of file descriptors;
 * io: the device failed; unavailable: the storage service cannot be reached or did not answer in time.
 */
export type StorageFaultKind = 'full' | 'read-only' | 'busy' | 'io' | 'unavailable';

export interface StorageFault {
  code: StorageFaultCode;
  kind: StorageFaultKind;
  /** The errno's meaning, e.g. "no space left on device". */
  description: string;
  /** The file the failed call named (server-side only: logs, never responses). */
  path?: string;
  syscall?: string;
}

const FAULTS: Record<FileFaultCode, { kind: StorageFaultKind; description: string }> = {
  ENOSPC: { kind: 'full', description: 'no space left on device' },
  EDQUOT: { kind: 'full', description: 'disk quota exceeded' },
  EROFS: { kind: 'read-only', description: 'read-only file system' },
  EMFILE: { kind: 'busy', description: 'too many open files' },
  ENFILE: { kind: 'busy', description: 'too many open files in the system' },
  EIO: { kind: 'io', description: 'input/output error' },
};

const HEADLINES: Record<StorageFaultKind, string> = {
  full: 'storage is full',
  'read-only': 'storage is read-only',
  busy: 'storage is busy',
  io: 'storage failed',
  unavailable: 'storage is unavailable',
};

const NETWORK = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
} as const;
type NetworkCode = keyof typeof NETWORK;

/** S3's answers that mean "not now" (after the SDK's own retries), as opposed to a refused request. */
const SERVICE_ERRORS = {
  ServiceUnavailable: 'the service is unavailable',
  SlowDown: 'the service asks to slow down',
  InternalError: 'the service failed',
  RequestTimeout: 'the service timed out',
} as const;
type ServiceErrorCode = keyof typeof SERVICE_ERRORS;

/** Answers of a service in trouble or of a proxy in front of one; 501 and the like are not outages. */
const OUTAGE_STATUSES = new Set([500, 502, 503, 504]);

/** The shape of the AWS SDK's errors: `$metadata` marks an error that came out of its client. */
interface ServiceError {
  name?: string;
  code?: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The fault `err` (or an error it wraps as `cause`) stands for, or undefined for any other error. */
export function storageFault(err: unknown): StorageFault | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, path, syscall } = e as NodeJS.ErrnoException;
    if (typeof code === 'string' && Object.hasOwn(FAULTS, code))
      return { code: code as FileFaultCode, ...FAULTS[code as FileFaultCode], path, syscall };
    const service = serviceFault(e);
    if (service) return { ...service, kind: 'unavailable' };
  }
  return undefined;
}

function serviceFault(e: ServiceError): { code: ServiceFaultCode; description: string } | undefined {
  // The SDK's connect, request and socket timeouts, and the S3 driver's own bounds.
  if (e.name === 'TimeoutError') return { code: 'ETIMEDOUT', description: 'no answer in time' };
  // Only errors of a storage client: a registry client's own reset connection is no outage.
  if (e.$metadata === undefined) return undefined;
  if (typeof e.code === 'string' && Object.hasOwn(NETWORK, e.code)) return { code: e.code as NetworkCode, description: NETWORK[e.code as NetworkCode] };
  if (e.code === 'ETIMEDOUT') return { code: 'ETIMEDOUT', description: 'no answer in time' };
  if (typeof e.name === 'string' && Object.hasOwn(SERVICE_ERRORS, e.name))
    return { code: e.name as ServiceErrorCode, description: SERVICE_ERRORS[e.name as ServiceErrorCode] };
  const status = e.$metadata.httpStatusCode;
  if (e.$fault === 'server' && status !== undefined && OUTAGE_STATUSES.has(status))
    return { code: `HTTP${status}`, description: `the service answered ${status}` };
  return undefined;
}

/** One line naming the cause for clients: "storage is full: no space left on device". */
export function faultMessage(fault: StorageFault): string {
  return `${HEADLINES[fault.kind]}: ${fault.description}`;
}

/** The same with the errno code, for readiness and logs: "storage is full (ENOSPC: no space left on device)". */
export function faultSummary(fault: StorageFault): string {
  return `${HEADLINES[fault.kind]} (${fault.code}: ${fault.description})`;
}
