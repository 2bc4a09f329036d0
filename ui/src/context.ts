import type { Api } from './api';
import type { Session } from './session';

/** What every view is given: no view reaches for globals. */
export interface ViewContext {
  api: Api;
  session: Session;
  /** The UI's path (ui.path), e.g. /ui. */
  base: string;
  /** An href for a path below the base. */
  href: (path: string) => string;
  navigate: (path: string, opts?: { replace?: boolean }) => void;
  /** Says something to everyone, screen readers included (an aria-live region). */
  announce: (message: string, kind?: 'info' | 'error') => void;
  /** Aborted when the user leaves the view, so its pending work stops. */
  signal: AbortSignal;
}
