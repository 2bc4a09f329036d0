import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { findTool } from '../helpers/tools';

/** Debian's chromium (apt-get install chromium; .ci/run installs it). */
export function chromiumPath(): string | undefined {
  return findTool('chromium') ?? findTool('chromium-browser');
}

/** node:test's `skip` for the browser tests: the reason, or false when chromium is there. */
export function browserSkip(extra: string[] = []): string | false {
  const missing = [...(chromiumPath() ? [] : ['chromium']), ...extra.filter((t) => !findTool(t))];
  if (missing.length === 0) return false;
  const reason = `not installed: ${missing.join(', ')}`;
  if (process.env.CI) throw new Error(`browser test prerequisites missing in CI (${reason}); .ci/run must install them`);
  return reason;
}

/** Headless chromium; `--no-sandbox` because the tests run as root, where its sandbox refuses to start. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** test-results/ui at the repository's root (this file runs from dist/test/ui). */
export const SCREENSHOTS = path.resolve(__dirname, '..', '..', '..', 'test-results', 'ui');

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Counts the times the browser would show its own login dialog: CDP's Fetch.authRequired fires
 * exactly when a response's challenge would make it ask (a headless browser has no dialog to
 * show). Each is cancelled, as a user dismissing the dialog would.
 */
export async function watchAuthDialogs(context: BrowserContext, page: Page): Promise<{ count(): number; urls: string[] }> {
  const cdp: CDPSession = await context.newCDPSession(page);
  const urls: string[] = [];
  cdp.on('Fetch.requestPaused', (e: { requestId: string }) => void cdp.send('Fetch.continueRequest', { requestId: e.requestId }).catch(() => undefined));
  cdp.on('Fetch.authRequired', (e: { requestId: string; request: { url: string } }) => {
    urls.push(e.request.url);
    void cdp.send('Fetch.continueWithAuth', { requestId: e.requestId, authChallengeResponse: { response: 'CancelAuth' } }).catch(() => undefined);
  });
  await cdp.send('Fetch.enable', { handleAuthRequests: true, patterns: [{ urlPattern: '*' }] });
  return { count: () => urls.length, urls };
}

/** Waits until the view's data is on screen (the app sets main[data-view] then). */
export async function viewReady(page: Page, view: string): Promise<void> {
  await page.waitForSelector(`main[data-view="${view}"]`, { timeout: 30_000 });
}

/** Goes to a view as a link inside the app would: no page load, so what the page holds in memory stays. */
export async function goInApp(page: Page, target: string): Promise<void> {
  await page.evaluate(`history.pushState(null, '', ${JSON.stringify(target)}); dispatchEvent(new PopStateEvent('popstate'))`);
}

export function readClipboard(page: Page): Promise<string> {
  return page.evaluate<string>('navigator.clipboard.readText()');
}
