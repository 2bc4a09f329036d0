import { Api } from './api';
import { startApp } from './app';
import { Session } from './session';

// The server writes ui.path into this meta tag: CSP's base-uri 'none' rules out <base>.
const base = document.querySelector<HTMLMetaElement>('meta[name="berth-ui-base"]')?.content ?? '/ui';
const session = new Session();
const root = document.getElementById('app');
if (root)
  session.detect().then(
    () => startApp(root, base, session, new Api(session)),
    (err: unknown) => {
      root.textContent = `The registry did not answer: ${err instanceof Error ? err.message : String(err)}`;
    },
  );
