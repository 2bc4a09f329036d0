import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { withRegistryLogs } from '../helpers/e2e-registry';
import { requireTool } from '../helpers/tools';
import { tokenFor, USERS } from '../auth/helpers';
import { browserSkip, goInApp, launchBrowser, readClipboard, screenshot, viewReady, watchAuthDialogs } from './browser';
import { writeRepositories, writeTags } from './bulk-store';
import { startUiRegistry, type UiRegistry } from './ui-registry';
import { pushMultiPlatform, type MultiPlatform } from './oci-push';

const skip = browserSkip(['dockerd', 'docker', 'busybox']) || (process.getuid?.() !== 0 ? 'must run as root (dockerd)' : false);

/** The documented example AWS key pair, as test/e2e/insight-docker.test.ts bakes in. */
const AWS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const BIG_BYTES = 3_000_000;
const MANY = 10_000;

describe('the web UI in a real browser, on a token-mode Berth loaded by the Docker engine', { skip, timeout: 900_000 }, () => {
  let registry: UiRegistry | undefined;
  let dockerd: Dockerd | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let dialogs: Awaited<ReturnType<typeof watchAuthDialogs>>;
  let work: string;
  let multi: MultiPlatform;
  const ui = (p = '/') => `${registry!.url}/ui${p}`;

  async function build(name: string, files: Record<string, string | Buffer>, lines: string[], tag = 'v1'): Promise<string> {
    const ctx = path.join(work, name.replace(/\//g, '_') + tag);
    await mkdir(ctx, { recursive: true });
    await copyFile(requireTool('busybox'), path.join(ctx, 'busybox'));
    for (const [file, content] of Object.entries(files)) await writeFile(path.join(ctx, file), content);
    await writeFile(path.join(ctx, 'Dockerfile'), ['FROM scratch', 'COPY busybox /bin/busybox', ...lines, ''].join('\n'));
    const ref = `${registry!.host}/${name}:${tag}`;
    await dockerd!.docker(['build', '--quiet', '--network', 'none', '--tag', ref, ctx]);
    return ref;
  }

  /** Waits until the insight of an image is complete, as alice. */
  async function analysed(name: string, reference: string): Promise<void> {
    const token = await tokenFor(registry!.url, 'alice', [`repository:${name}:pull`]);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const res = await fetch(`${registry!.url}/v2/${name}/_berth/insight/${reference}`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status === 200) return;
      assert.equal(res.status, 202, await res.text());
      if (Date.now() > deadline) assert.fail(`insight of ${name}:${reference} still pending`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ui-e2e-'));
    registry = await startUiRegistry('token');
    dockerd = await startDockerd();
    await dockerd.docker(['login', '--username', 'alice', '--password', USERS.alice, registry.host]);
    const hello = await build('public/hello', {}, ['LABEL org.opencontainers.image.title=hello', 'CMD ["/bin/busybox", "echo", "hello"]']);
    await dockerd.docker(['push', hello]);
    await dockerd.docker(['tag', hello, `${registry.host}/public/hello:old`]);
    await dockerd.docker(['push', `${registry.host}/public/hello:old`]);
    const wasted = await build('public/wasted', { 'big.bin': Buffer.alloc(BIG_BYTES, 7) }, ['COPY big.bin /data/big.bin', 'RUN ["/bin/busybox", "rm", "/data/big.bin"]']);
    await dockerd.docker(['push', wasted]);
    const keys = await build('private/keys', { credentials: `[default]\naws_access_key_id = ${AWS_KEY_ID}\naws_secret_access_key = ${AWS_SECRET}\n` }, [
      'COPY credentials /root/.aws/credentials',
      'RUN ["/bin/busybox", "rm", "/root/.aws/credentials"]',
    ]);
    await dockerd.docker(['push', keys]);
    // The same tag pushed twice, its dependency copy above the source: layer-order advice (test/e2e/insight-docker.test.ts).
    const order = ['COPY vendor.txt /vendor/lib.txt', 'COPY app.txt /app/app.txt', 'RUN ["/bin/busybox", "cp", "-r", "/vendor", "/deps"]'];
    await dockerd.docker(['push', await build('public/order', { 'vendor.txt': Buffer.alloc(400_000, 'v'), 'app.txt': 'version 1\n' }, order, 'latest')]);
    await analysed('public/order', 'latest');
    await dockerd.docker(['push', await build('public/order', { 'vendor.txt': Buffer.alloc(400_000, 'v'), 'app.txt': 'version 2\n' }, order, 'latest')]);
    await analysed('public/order', 'latest');
    // An index and referrers, which docker cannot make offline (no buildx, no cosign): over HTTP.
    for (const [ref, tag] of [[hello, 'amd64'], [wasted, 'arm64']]) {
      await dockerd.docker(['tag', ref, `${registry.host}/public/multi:${tag}`]);
      await dockerd.docker(['push', `${registry.host}/public/multi:${tag}`]);
    }
    multi = await pushMultiPlatform(registry.url, `Bearer ${await tokenFor(registry.url, 'alice', ['repository:public/multi:pull,push'])}`, 'public/multi');
    await analysed('public/wasted', 'v1');
    await analysed('private/keys', 'v1');
    // 10,000 repositories and a repository of 10,000 tags, written into the store (pushes would take an hour).
    const started = Date.now();
    await writeRepositories(registry.root, 'public/hello', 'v1', 'public/perf/r', MANY);
    await writeTags(registry.root, 'public/hello', 'v1', 'public/many-tags', 't', MANY);
    console.log(`ui e2e: wrote ${MANY} repositories and ${MANY} tags into the store in ${Date.now() - started} ms`);

    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: registry.url });
    page = await context.newPage();
    dialogs = await watchAuthDialogs(context, page);
  });

  after(async () => {
    await browser?.close();
    await dockerd?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('first view with 10,000 repositories and of a repository with 10,000 tags (logged, not asserted)', () =>
    withRegistryLogs(registry, async () => {
      for (const [label, target, view] of [
        ['repositories page, 10,000 repositories', '/', 'repositories'],
        ['tags page, 10,000 tags', '/repo/public/many-tags', 'tags'],
      ] as const) {
        const times: string[] = [];
        for (let i = 0; i < 3; i++) {
          const started = Date.now();
          await page.goto(ui(target));
          await viewReady(page, view);
          // Seen from the test, and in the page from the start of navigation (the app's own mark).
          times.push(`${Date.now() - started} ms (in page ${await page.locator('main').getAttribute('data-view-ms')} ms)`);
        }
        console.log(`ui e2e: first view of the ${label}: ${times.join(', ')} (three page loads, anonymous)`);
      }
      // The copy of public/hello keeps its tags: `old` sorts before the t-tags, `v1` after them.
      const tags = await page.locator('.tag-table tbody th').allTextContents();
      assert.equal(tags.length, 100);
      assert.deepEqual(tags.slice(0, 3), ['old', 't00000', 't00001']);
      await page.getByRole('link', { name: 'Next page »' }).waitFor();
      await screenshot(page, '01-tags-10000');
    }));

  test('signing in: a wrong password is told in the page, the right one shows the private repositories', () =>
    withRegistryLogs(registry, async () => {
      await page.goto(ui('/'));
      await viewReady(page, 'repositories');
      assert.equal(await page.getByRole('link', { name: 'private/keys' }).count(), 0);
      await page.getByRole('link', { name: 'Sign in' }).click();
      await viewReady(page, 'login');
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('not-her-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
      await page.getByLabel('Password').fill(USERS.alice);
      await screenshot(page, '02-login');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await viewReady(page, 'repositories');
      await page.locator('.account').getByText('Signed in as alice').waitFor();
      await page.getByRole('link', { name: 'private/keys' }).waitFor();
      await screenshot(page, '03-repositories');
    }));

  test('search: a part of a name finds it among 10,000 others', () =>
    withRegistryLogs(registry, async () => {
      await page.getByLabel('Search repositories').fill('wast');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForURL(/\/ui\/\?q=wast$/);
      await viewReady(page, 'repositories');
      assert.deepEqual(await page.locator('.repo-table tbody th').allTextContents(), ['public/wasted']);
      await screenshot(page, '04-search');
    }));

  test('an image: its layers with the instruction that made each, its config, and the pull commands copied', () =>
    withRegistryLogs(registry, async () => {
      await page.goto(ui('/'));
      await viewReady(page, 'repositories');
      // Signed in is kept in memory only: a new page load is anonymous again.
      await page.getByText('Anonymous').waitFor();
      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill(USERS.alice);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await viewReady(page, 'repositories');
      // Its size fills in after the names: its blobs, each once (GET /v2/<name>/_berth/usage).
      const helloRow = page.locator('.repo-table tbody tr', { has: page.getByRole('link', { name: 'public/hello', exact: true }) });
      await helloRow.locator('td').filter({ hasText: /^\d+(\.\d+)? (B|KB|MB)$/ }).waitFor();
      await page.getByRole('link', { name: 'public/hello', exact: true }).click();
      await viewReady(page, 'tags');
      assert.deepEqual(await page.locator('.tag-table tbody th').allTextContents(), ['old', 'v1']);
      // Each tag with its digest, size, platform and push time (GET /v2/<name>/_berth/tags).
      const v1 = (await page.locator('.tag-table tbody tr').nth(1).locator('td').allTextContents()).map((c) => c.trim());
      assert.match(v1[0], /^sha256:[0-9a-f]{12} Copy$/);
      assert.match(v1[1], /^\d+(\.\d+)? (B|KB|MB)$/);
      assert.match(v1[2], /^linux\/[a-z0-9]+/);
      assert.match(v1[3], /(ago|just now)$/);
      await screenshot(page, '05-tags');
      await page.getByRole('link', { name: 'v1' }).click();
      await viewReady(page, 'image');
      await page.getByText('application/vnd.docker.distribution.manifest.v2+json').first().waitFor();
      const madeBy = await page.locator('.layers .created-by').allTextContents();
      assert.equal(madeBy.length, 1);
      assert.match(madeBy[0], /COPY file:.* in \/bin\/busybox/);
      await page.getByText('["/bin/busybox","echo","hello"]').waitFor();
      await page.getByText('org.opencontainers.image.title=hello').waitFor();
      await screenshot(page, '06-image');
      await page.getByRole('button', { name: `Copy: docker pull ${registry!.host}/public/hello:v1` }).click();
      await page.getByRole('status').filter({ hasText: 'Copied' }).waitFor();
      assert.equal(await readClipboard(page), `docker pull ${registry!.host}/public/hello:v1`);
      await page.getByRole('button', { name: /^Copy: docker pull .*@sha256:/ }).click();
      assert.match(await readClipboard(page), new RegExp(`^docker pull ${registry!.host.replace(/\./g, '\\.')}/public/hello@sha256:[0-9a-f]{64}$`));
    }));

  test('insight: the wasted bytes and their offender; a secret finding with its layer, never the secret', () =>
    withRegistryLogs(registry, async () => {
      await page.getByRole('link', { name: 'Repositories' }).first().click();
      await page.getByLabel('Search repositories').fill('public/wasted');
      await page.getByRole('button', { name: 'Search' }).click();
      await viewReady(page, 'repositories');
      await page.getByRole('link', { name: 'public/wasted' }).click();
      await page.getByRole('link', { name: 'v1' }).click();
      await viewReady(page, 'image');
      await page.getByRole('link', { name: /^Insight/ }).click();
      await viewReady(page, 'insight');
      assert.equal(await page.getByTestId('wasted').textContent(), '3.00 MB');
      const offender = page.getByRole('row', { name: /^data\/big\.bin/ });
      await offender.waitFor();
      assert.match(await offender.textContent() ?? '', /3\.00 MB.*layer 1: .*COPY.*layer 2: .*busybox rm \/data\/big\.bin/);
      await screenshot(page, '07-insight-wasted');

      await goInApp(page, '/ui/repo/private/keys/-/insight/v1');
      await viewReady(page, 'insight');
      const rows = page.locator('table.findings tbody tr');
      await rows.first().waitFor();
      const findings = await rows.allTextContents();
      assert.ok(findings.some((f) => f.includes('root/.aws/credentials') && f.includes('aws-access-key-id') && /^root\/\.aws\/credentialsaws-access-key-id1 sha256:/.test(f)), findings.join('\n'));
      const text = await page.locator('main').textContent();
      assert.ok(!text?.includes(AWS_SECRET) && !text?.includes(AWS_KEY_ID), 'the page shows the secret');
      await screenshot(page, '08-insight-secrets');
    }));

  test('insight: the layer size chart, the layer-order advice, a file tree opened a directory at a time; the storage view', () =>
    withRegistryLogs(registry, async () => {
      const violations: string[] = [];
      page.on('console', (m) => void (m.text().includes('Content Security Policy') && violations.push(m.text())));
      await goInApp(page, '/ui/repo/public/order/-/insight/latest');
      await viewReady(page, 'insight');
      const chart = page.getByTestId('layer-chart');
      assert.equal(await chart.locator('svg rect.bar-kept').count(), 4);
      assert.match((await chart.locator('svg desc').textContent()) ?? '', /^layer 0: .* of files .*; layer 3: 400\.\d+ KB of files/);
      const advice = page.getByTestId('push').locator('ul.advice li');
      assert.match((await advice.first().textContent()) ?? '', /^Move layer 3 \(.*cp -r \/vendor \/deps.*\) below layer 2 \(.*app\.txt.*\): saves .+ per push and .+ per pull\.$/);
      await page.getByTestId('push').scrollIntoViewIfNeeded();
      await screenshot(page, '08a-insight-chart-advice');
      const tree = page.getByTestId('file-tree');
      const deps = tree.getByRole('button', { name: 'deps/' });
      await deps.focus();
      await page.keyboard.press('Enter');
      assert.equal(await deps.getAttribute('aria-expanded'), 'true');
      await tree.locator('li', { hasText: /^lib\.txt/ }).first().waitFor();
      assert.match(page.url(), /\?layer=final&dir=deps$|\?dir=deps&layer=final$|[?&]dir=deps/);
      await deps.scrollIntoViewIfNeeded();
      await screenshot(page, '08b-insight-tree');
      // A layer's own tree, by deep link: the directory opens by itself.
      await goInApp(page, '/ui/repo/public/order/-/insight/latest?layer=1&dir=vendor');
      await viewReady(page, 'insight');
      await page.getByTestId('file-tree').locator('li', { hasText: /^lib\.txt/ }).first().waitFor();
      assert.deepEqual(violations, []);

      await goInApp(page, '/ui/');
      await viewReady(page, 'repositories');
      await page.getByRole('link', { name: /^Storage/ }).click();
      await page.waitForSelector('main[data-view="storage"]', { timeout: 180_000 });
      assert.match((await page.getByTestId('stored').textContent()) ?? '', /\d+(\.\d+)? (B|KB|MB)/);
      await page.getByRole('row', { name: /^public\/order/ }).waitFor();
      await screenshot(page, '08c-storage');
    }));

  test('an index: its platforms, each linking to its image, and its own referrer (a signature)', () =>
    withRegistryLogs(registry, async () => {
      await goInApp(page, '/ui/repo/public/multi/-/image/v1');
      await viewReady(page, 'image');
      await page.getByText('application/vnd.oci.image.index.v1+json').first().waitFor();
      for (const platform of ['amd64', 'arm64'] as const) {
        const link = page.getByRole('link', { name: `linux/${platform}`, exact: true });
        assert.equal(await link.getAttribute('href'), `/ui/repo/public/multi/-/image/${multi[platform].digest}`, platform);
      }
      const signature = page.locator('table.referrers tbody tr');
      assert.equal(await signature.count(), 1);
      assert.match((await signature.textContent()) ?? '', /^Cosign signatureapplication\/vnd\.dev\.cosign\.artifact\.sig\.v1\+json.*2026-01-02 03:04:06 UTC$/);
      assert.equal(await signature.getByRole('link').getAttribute('href'), `/ui/repo/public/multi/-/image/${multi.signature.digest}`);
      await screenshot(page, '12-index-platforms');
    }));

  test("an image's referrer (an SBOM): listed with its type, size and date, and the SBOM's page links back to its subject", () =>
    withRegistryLogs(registry, async () => {
      await goInApp(page, `/ui/repo/public/multi/-/image/${multi.amd64.digest}`);
      await viewReady(page, 'image');
      const row = page.locator('table.referrers tbody tr');
      assert.equal(await row.count(), 1);
      assert.match((await row.textContent()) ?? '', new RegExp(`^SBOM \\(SPDX\\)application/spdx\\+json${multi.sbom.digest.slice(0, 19)}.*2026-01-02 03:04:05 UTC$`));
      // alice may delete in public/**: the buttons are there.
      await page.getByRole('button', { name: 'Delete manifest' }).waitFor();
      await screenshot(page, '13-image-referrers');
      await row.getByRole('link').click();
      await page.waitForURL(`**/image/${multi.sbom.digest}`);
      await viewReady(page, 'image');
      await page.getByText('application/spdx+json', { exact: true }).waitFor();
      assert.equal(await page.locator('a.subject').getAttribute('href'), `/ui/repo/public/multi/-/image/${multi.amd64.digest}`);
      assert.equal(await page.getByRole('link', { name: /^Insight/ }).count(), 0, 'an SBOM has no filesystem to analyse');
      await screenshot(page, '14-referrer-subject');
    }));

  test('deleting a tag: confirmed in a dialog, then gone from the list and from the registry', () =>
    withRegistryLogs(registry, async () => {
      await goInApp(page, '/ui/repo/public/hello/-/image/old');
      await viewReady(page, 'image');
      await page.getByRole('button', { name: 'Delete tag old' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete tag?' });
      await dialog.waitFor();
      await screenshot(page, '09-delete-dialog');
      await dialog.getByRole('button', { name: 'Delete tag' }).click();
      await viewReady(page, 'tags');
      await page.getByRole('status').filter({ hasText: 'Deleted tag public/hello:old' }).waitFor();
      assert.deepEqual(await page.locator('.tag-table tbody th').allTextContents(), ['v1']);
      const token = await tokenFor(registry!.url, 'alice', ['repository:public/hello:pull']);
      const head = await fetch(`${registry!.url}/v2/public/hello/manifests/old`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
      assert.equal(head.status, 404);
      assert.equal((await fetch(`${registry!.url}/v2/public/hello/manifests/v1`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } })).status, 200);
    }));

  test('signing out: only the public repositories are left, and a private one asks to sign in', () =>
    withRegistryLogs(registry, async () => {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await viewReady(page, 'repositories');
      await page.getByText('Anonymous').waitFor();
      const names = await page.locator('.repo-table tbody th').allTextContents();
      assert.ok(names.length > 0 && names.every((n) => n.startsWith('public/')), names.slice(0, 10).join(', '));
      await page.locator('.storage-link[data-storage="denied"]').waitFor({ state: 'attached' });
      assert.equal(await page.getByRole('link', { name: /^Storage/ }).count(), 0);
      await screenshot(page, '10-signed-out');
      await page.getByLabel('Search repositories').fill('private');
      await page.getByRole('button', { name: 'Search' }).click();
      await viewReady(page, 'repositories');
      assert.equal(await page.locator('.repo-table tbody th').count(), 0);
      await page.getByText(/^0 repositories matching/).waitFor();
      await goInApp(page, '/ui/repo/private/keys');
      await viewReady(page, 'tags');
      await page.getByRole('alert').filter({ hasText: /not allowed to list the tags of private\/keys without signing in|must sign in/ }).waitFor();
      await screenshot(page, '11-private-anonymous');
      assert.deepEqual(dialogs.urls, [], 'the browser would have shown its own login dialog');
    }));

  test('no delete buttons without delete permission: anonymous on a public image, bob (pull only) on a private one', () =>
    withRegistryLogs(registry, async () => {
      await goInApp(page, '/ui/repo/public/hello/-/image/v1');
      await viewReady(page, 'image');
      await page.getByRole('heading', { name: 'Layers (1, ' }).waitFor();
      assert.equal(await page.getByRole('button', { name: /^Delete/ }).count(), 0, 'anonymous sees a delete button');
      await page.getByRole('link', { name: 'Sign in' }).click();
      await viewReady(page, 'login');
      await page.getByLabel('Username').fill('bob');
      await page.getByLabel('Password').fill(USERS.bob);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // Signing in returns to the page it was asked from.
      await page.waitForURL('**/ui/repo/public/hello/-/image/v1');
      await viewReady(page, 'image');
      await page.locator('.account').getByText('Signed in as bob').waitFor();
      await goInApp(page, '/ui/repo/private/keys/-/image/v1');
      await viewReady(page, 'image');
      await page.getByRole('heading', { name: /^Layers/ }).waitFor();
      assert.equal(await page.getByRole('button', { name: /^Delete/ }).count(), 0, 'bob sees a delete button');
      await screenshot(page, '15-image-without-delete');
    }));
});
