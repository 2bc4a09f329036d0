import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { withRegistryLogs } from '../helpers/e2e-registry';
import { basic, USERS } from '../auth/helpers';
import { Pusher, pushImage, THREE_LAYERS } from '../insight/images';
import { browserSkip, launchBrowser, screenshot, viewReady, watchAuthDialogs } from './browser';
import { contrastFailures } from './contrast';
import { startUiRegistry, type UiRegistry } from './ui-registry';

const skip = browserSkip();

describe('the web UI in a real browser, on a Berth in htpasswd (Basic) mode', { skip, timeout: 300_000 }, () => {
  let registry: UiRegistry | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let dialogs: Awaited<ReturnType<typeof watchAuthDialogs>>;

  before(async () => {
    registry = await startUiRegistry('basic');
    const alice = new Pusher(registry.url, basic('alice', USERS.alice));
    await pushImage(alice, 'private/app', 'v1', THREE_LAYERS);
    await pushImage(alice, 'public/site', 'v1', THREE_LAYERS);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    dialogs = await watchAuthDialogs(context, page);
  });

  after(async () => {
    await browser?.close();
    await registry?.stop();
  });

  test('every 401 answered with a Basic challenge is handled in the page: the browser never asks for a password itself', () =>
    withRegistryLogs(registry, async () => {
      // Anonymous: the policy lets anyone pull public/**, so the catalog lists exactly that...
      await page.goto(`${registry!.url}/ui/`);
      await viewReady(page, 'repositories');
      await page.getByRole('link', { name: 'public/site' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'private/app' }).count(), 0, 'an anonymous visitor saw a private repository');
      await screenshot(page, 'basic-01-anonymous');
      assert.deepEqual(await contrastFailures(page), [], 'repositories, light');
      // ...and anything else is challenged with Basic, which the page handles itself.
      const challenge = await fetch(`${registry!.url}/v2/private/app/tags/list`);
      assert.equal(challenge.status, 401);
      assert.match(challenge.headers.get('www-authenticate') ?? '', /^Basic /);
      await page.goto(`${registry!.url}/ui/repo/private/app`);
      await viewReady(page, 'tags');
      await page.getByRole('alert').filter({ hasText: 'You must sign in' }).waitFor();
      await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
      await viewReady(page, 'login');
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('wrong');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
      await page.getByLabel('Password').fill(USERS.alice);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // Back where the sign-in started, now allowed.
      await viewReady(page, 'tags');
      await page.getByRole('link', { name: 'v1' }).click();
      await viewReady(page, 'image');
      assert.deepEqual(await page.locator('.layers .created-by').allTextContents(), ['ADD rootfs.tar /', 'RUN rm /app/big.bin /app/id_ed25519 && make', 'COPY etc /etc']);
      // The config's DB_PASSWORD is shown by name only.
      await page.getByText('DB_PASSWORD=•••• (hidden)').waitFor();
      assert.ok(!(await page.locator('main').textContent())?.includes('correct-horse-battery'));
      await screenshot(page, 'basic-02-image');
      assert.deepEqual(await contrastFailures(page), [], 'image, light');
      // The theme toggle: the page follows prefers-color-scheme (light here) until switched.
      await page.getByRole('button', { name: 'Switch to the dark theme' }).click();
      assert.equal(await page.locator('html').getAttribute('data-theme'), 'dark');
      assert.equal(await page.evaluate('getComputedStyle(document.body).backgroundColor'), 'rgb(15, 20, 25)');
      await screenshot(page, 'basic-03-image-dark');
      assert.deepEqual(await contrastFailures(page), [], 'image, dark');
      // The insight view has the most colours: badges, findings, the chart's legend, the tree.
      await page.getByRole('link', { name: /insight/i }).first().click();
      await viewReady(page, 'insight');
      await page.getByRole('heading', { name: /^Secrets/ }).waitFor({ timeout: 60_000 });
      await screenshot(page, 'basic-04-insight-dark');
      assert.deepEqual(await contrastFailures(page), [], 'insight, dark');
      await page.getByRole('button', { name: 'Switch to the light theme' }).click();
      assert.deepEqual(await contrastFailures(page), [], 'insight, light');
      assert.deepEqual(dialogs.urls, [], 'the browser would have shown its own login dialog');
    }));
});
