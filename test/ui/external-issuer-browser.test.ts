import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { authConfig, authFixture, pushImage, startAuthRegistry, USERS, type AuthFixture, type AuthRegistry } from '../auth/helpers';
import { rsaKey, sign } from '../auth/keys';
import { browserSkip, launchBrowser, screenshot, viewReady } from './browser';
import { ISSUER, startIssuer, type Issuer } from './external-issuer';

const skip = browserSkip();
const KID = 'ext-1';

describe('the web UI in a real browser, signing in through an external token issuer on another origin', { skip, timeout: 300_000 }, () => {
  const key = rsaKey();
  let fx: AuthFixture;
  let issuers: Issuer[] = [];
  let registries: AuthRegistry[] = [];
  let browser: Browser | undefined;

  /** A Berth trusting `issuer` alone (auth.token.realm on the issuer's origin), with team/app:v1 pushed. */
  async function registryFor(issuer: Issuer): Promise<AuthRegistry> {
    const jwks = path.join(fx.dir, 'issuer.jwks.json');
    await writeFile(jwks, JSON.stringify({ keys: [{ ...(createPublicKey(key).export({ format: 'jwk' }) as object), kid: KID }] }));
    const reg = await startAuthRegistry(authConfig({ token: { realm: issuer.realm, service: 'berth', issuer: ISSUER, jwks, server: { enabled: false } } }));
    registries.push(reg);
    const token = await sign(key, { iss: ISSUER, sub: 'alice', access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }] }, { kid: KID });
    assert.equal((await pushImage(reg.url, 'team/app', 'v1', `Bearer ${token}`)).status, 201);
    return reg;
  }

  async function signIn(page: Page, reg: AuthRegistry): Promise<void> {
    await page.goto(`${reg.url}/ui/login`);
    await viewReady(page, 'login');
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(USERS.alice);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  before(async () => {
    fx = await authFixture();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    for (const r of registries) await r.close();
    for (const i of issuers) await i.close();
    await fx?.cleanup();
    issuers = [];
    registries = [];
  });

  test("an issuer that answers CORS: the CSP names its origin, alice signs in and sees her repository's tags", async () => {
    const issuer = await startIssuer(key, KID, true);
    issuers.push(issuer);
    const reg = await registryFor(issuer);
    const page = await browser!.newPage();
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|CORS/i.test(m.text())) blocked.push(m.text());
    });
    const csp = (await fetch(`${reg.url}/ui/`)).headers.get('content-security-policy') ?? '';
    assert.ok(csp.includes(`connect-src 'self' ${issuer.origin};`), csp);
    await signIn(page, reg);
    await viewReady(page, 'repositories');
    await page.locator('.account').getByText('Signed in as alice').waitFor();
    await page.getByRole('link', { name: 'team/app' }).click();
    await viewReady(page, 'tags');
    assert.deepEqual(await page.locator('.tag-table tbody th').allTextContents(), ['v1']);
    await screenshot(page, '16-external-issuer-tags');
    assert.deepEqual(blocked, []);
    // The preflight of the GET with credentials, the sign-in itself, then refresh-token grants per scope.
    assert.ok(issuer.requests.includes('OPTIONS ?service=berth&offline_token=true&client_id=berth-ui'), issuer.requests.join('\n'));
    assert.ok(issuer.requests.includes('GET ?service=berth&offline_token=true&client_id=berth-ui'), issuer.requests.join('\n'));
    assert.ok(issuer.requests.includes('POST refresh_token'), issuer.requests.join('\n'));
    await page.close();
  });

  test('an issuer that sends no CORS headers: the sign-in says the token endpoint cannot be reached', async () => {
    const issuer = await startIssuer(key, KID, false);
    issuers.push(issuer);
    const reg = await registryFor(issuer);
    const page = await browser!.newPage();
    await signIn(page, reg);
    await page.getByRole('alert').filter({ hasText: `Could not reach the token endpoint at ${issuer.origin}` }).waitFor();
    await screenshot(page, '17-external-issuer-no-cors');
    await page.close();
  });
});
