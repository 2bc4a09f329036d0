import type { Logger } from 'pino';
import type { UiSite } from '../http/ui-routes';
import { loadUiBundle, type UiBundle } from './assets';

/**
 * The UI at `path`, its files read from `directory` on first use (start-up calls it, so requests
 * find them in memory). A read that fails is tried again by the next request rather than cached.
 */
export function uiSite(path: string, directory: string, logger: Logger, tokenOrigin?: string): UiSite {
  let loading: Promise<UiBundle | undefined> | undefined;
  return {
    path,
    tokenOrigin,
    bundle() {
      loading ??= loadUiBundle(directory, path).then(
        (bundle) => {
          if (!bundle) logger.warn({ directory }, `ui: not built, ${path} answers 404 (npm run build builds it)`);
          return bundle;
        },
        (err: unknown) => {
          loading = undefined;
          throw err;
        },
      );
      return loading;
    },
  };
}
