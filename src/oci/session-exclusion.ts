import { DomainError } from './errors';
import type { Locker } from './lock-table';

/** A request's exclusive hold on one upload session (uploads.ts). */
export interface SessionHold {
  /** The session may have ended while this waited for it: look it up again before writing. */
  readonly recheck: boolean;
  /** Throws once the hold is lost (only a storage lease can be): before each step that must not overlap another holder's. */
  assertHeld(): void;
  /** The session is about to go, with whatever of the hold lives in it. */
  end(): Promise<void>;
  /** Frees the hold for the next request, however the work ended. */
  release(): Promise<void>;
}

/** How requests on one upload session exclude each other. */
export interface SessionExclusion {
  /** The session's hold, waiting for the request holding it; `upload-busy` when that takes too long. */
  acquire(name: string, uuid: string, signal?: AbortSignal): Promise<SessionHold>;
}

/** The holder's name stays out of what the client is told. */
export const SESSION_BUSY = "another request on this upload session is still in progress; retry from the upload's Range once it has ended";

/**
 * Sessions held in memory: by this process, or through its group's primary (src/workers). Enough
 * where nobody else can reach the session: without a configured http.secret, only the process (or
 * the group) that signed a session's `_state` accepts requests on it. A hold cannot be lost, and
 * costs no storage operation; a worker that dies frees its holds at once (the primary sees it exit).
 */
export class SessionLocks implements SessionExclusion {
  constructor(
    private readonly locker: Locker,
    private readonly waitMs: number,
  ) {}

  async acquire(name: string, uuid: string, signal?: AbortSignal): Promise<SessionHold> {
    const grant = await this.locker.acquire(`${name}/${uuid}`, this.waitMs, signal);
    if (grant === null) throw new DomainError('upload-busy', {}, SESSION_BUSY);
    return {
      recheck: grant.waited,
      assertHeld: () => undefined,
      // Held on until release: the holder deletes the session after end(), and a request let in
      // before that would find it still there.
      end: () => Promise.resolve(),
      release: () => Promise.resolve(grant.release()),
    };
  }
}
