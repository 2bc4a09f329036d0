/**
 * Storage faults: the errno failures that say the store itself cannot take writes (or, for file
 * descriptors, any work) right now, as opposed to a bug or a bad request. Drivers pass them through
 * untouched; the HTTP edge turns them into clear answers and readiness tracks them (storage-health).
 */
export type StorageFaultCode = 'ENOSPC' | 'EDQUOT' | 'EROFS' | 'EMFILE' | 'ENFILE' | 'EIO';

/** full: space or quota is gone; read-only: the mount refuses writes; busy: out of file descriptors; io: the device failed. */
export type StorageFaultKind = 'full' | 'read-only' | 'busy' | 'io';

export interface StorageFault {
  code: StorageFaultCode;
  kind: StorageFaultKind;
  /** The errno's meaning, e.g. "no space left on device". */
  description: string;
  /** The file the failed call named (server-side only: logs, never responses). */
  path?: string;
  syscall?: string;
}

const FAULTS: Record<StorageFaultCode, { kind: StorageFaultKind; description: string }> = {
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
};

/** The fault `err` (or an error it wraps as `cause`) stands for, or undefined for any other error. */
export function storageFault(err: unknown): StorageFault | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, path, syscall } = e as NodeJS.ErrnoException;
    if (typeof code !== 'string' || !Object.hasOwn(FAULTS, code)) continue;
    return { code: code as StorageFaultCode, ...FAULTS[code as StorageFaultCode], path, syscall };
  }
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
