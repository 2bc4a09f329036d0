import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { startRegistry, testConfig, type TestRegistry } from './server';
import { uiFixture, type UiFixture } from './ui-fixture';
import { authFixture, type AuthFixture } from '../auth/helpers';
import { rsaKey } from '../auth/keys';
import { createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_UI_DIRECTORY } from '../../src/ui-server/assets';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request with the target sent exactly as written: fetch would resolve `..` before sending. */
function raw(url: string, target: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Raw> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: target, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function assertUiHeaders(r: Raw): void {
  assert.equal(r.headers['content-security-policy'], CSP);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers['referrer-policy'], 'no-referrer');
}

describe('the web UI: static files under ui.path', () => {
  let fixture: UiFixture;
  let registry: TestRegistry;
  before(async () => {
    fixture = await uiFixture();
    registry = await startRegistry({ deps: { uiDirectory: fixture.dir } });
  });
  after(async () => {
    await registry.close();
    await fixture.cleanup();
  });

  test('index.html at /ui, /ui/ and every deep link, never cached stale, with the strict CSP and ui.path filled in', async () => {
    for (const target of ['/ui', '/ui/', '/ui/login?next=%2F', '/ui/repo/library/nginx', '/ui/repo/a/b/c/-/image/sha256:' + '0'.repeat(64), '/ui/repo/a/-/insight/v1.2']) {
      const r = await raw(registry.url, target);
      assert.equal(r.status, 200, target);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8', target);
      assert.equal(r.headers['cache-control'], 'no-cache', target);
      assertUiHeaders(r);
      const html = r.body.toString();
      assert.match(html, /<meta name="berth-ui-base" content="\/ui">/);
      assert.match(html, /src="\/ui\/assets\/app-ABCD1234\.js"/);
      assert.ok(!html.includes('%BERTH_UI_BASE%'));
    }
  });

  test('hashed assets: their content type, cached for a year as immutable, gzipped for clients that take it, 304 on their ETag', async () => {
    const plain = await raw(registry.url, `/ui/${fixture.script}`);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body.toString(), fixture.scriptBody);
    assertUiHeaders(plain);
    const zipped = await raw(registry.url, `/ui/${fixture.script}`, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(zipped.headers.vary, 'Accept-Encoding');
    assert.ok(zipped.body.length < plain.body.length / 4);
    assert.equal(gunzipSync(zipped.body).toString(), fixture.scriptBody);
    const refused = await raw(registry.url, `/ui/${fixture.script}`, { headers: { 'accept-encoding': 'gzip;q=0' } });
    assert.equal(refused.headers['content-encoding'], undefined);
    const again = await raw(registry.url, `/ui/${fixture.script}`, { headers: { 'if-none-match': String(plain.headers.etag) } });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const head = await raw(registry.url, `/ui/${fixture.script}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(Buffer.byteLength(fixture.scriptBody)));

    for (const [file, type] of [
      ['assets/style-ABCD1234.css', 'text/css; charset=utf-8'],
      ['assets/favicon-ABCD1234.svg', 'image/svg+xml'],
      ['robots.txt', 'text/plain; charset=utf-8'],
    ]) {
      const r = await raw(registry.url, `/ui/${file}`);
      assert.equal(r.status, 200, file);
      assert.equal(r.headers['content-type'], type, file);
      assert.equal(r.headers['cache-control'], file.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache', file);
    }
  });

  test('a missing asset is a 404, not index.html: a script tag must never receive HTML', async () => {
    const r = await raw(registry.url, '/ui/assets/app-00000000.js');
    assert.equal(r.status, 404);
    assert.match(r.headers['content-type'] ?? '', /^application\/json/);
    assert.equal((JSON.parse(r.body.toString()) as { errors: Array<{ code: string }> }).errors[0].code, 'UNSUPPORTED');
  });

  test('traversal in every spelling stays inside the UI: 404, never a file outside it, never a 500', async () => {
    for (const target of [
      '/ui/../package.json',
      '/ui/../../../../etc/passwd',
      '/ui/%2e%2e/%2e%2e/package.json',
      '/ui/%2E%2E%2F%2E%2E%2Fpackage.json',
      '/ui/assets/..%2f..%2f..%2fsrc%2fapp.js',
      '/ui/assets/%2e%2e/index.html',
      '/ui/..%5c..%5cpackage.json',
      '/ui/.%2fassets/app-ABCD1234.js',
      '/ui/%00',
      '/ui/%zz',
      '/ui/assets/%c0%ae%c0%ae/passwd',
    ]) {
      const r = await raw(registry.url, target);
      assert.equal(r.status, 404, `${target}: ${r.status} ${r.body.toString().slice(0, 200)}`);
      assert.ok(!r.body.toString().includes('"dependencies"') && !r.body.toString().includes('root:'), target);
    }
  });

  test('only GET and HEAD; paths beside ui.path and the registry are not the UI', async () => {
    const post = await raw(registry.url, '/ui/', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((await raw(registry.url, '/uix')).status, 404);
    assert.equal((await raw(registry.url, '/v2/')).status, 200);
  });

  test('no CORS headers anywhere: the API is not readable from other origins, so deletes need the page itself', async () => {
    for (const [target, method] of [
      ['/v2/', 'GET'],
      ['/v2/_catalog', 'GET'],
      ['/v2/a/manifests/x', 'OPTIONS'],
      ['/ui/', 'GET'],
    ]) {
      const r = await raw(registry.url, target, { method, headers: { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' } });
      for (const h of Object.keys(r.headers)) assert.ok(!h.startsWith('access-control-'), `${method} ${target} sent ${h}`);
    }
  });
});

describe('the web UI: configuration', () => {
  let fixture: UiFixture;
  before(async () => {
    fixture = await uiFixture();
  });
  after(() => fixture.cleanup());

  test('ui.enabled: false: /ui is a 404 like any unknown path', async () => {
    const registry = await startRegistry({ config: testConfig({ ui: { enabled: false } }), deps: { uiDirectory: fixture.dir } });
    try {
      for (const target of ['/ui', '/ui/', '/ui/repo/a', `/ui/${fixture.script}`]) assert.equal((await raw(registry.url, target)).status, 404, target);
    } finally {
      await registry.close();
    }
  });

  test('a custom ui.path: served there, written into index.html, and /ui is free', async () => {
    const registry = await startRegistry({ config: testConfig({ ui: { path: '/console/registry' } }), deps: { uiDirectory: fixture.dir } });
    try {
      const index = await raw(registry.url, '/console/registry/repo/a/b');
      assert.equal(index.status, 200);
      assert.match(index.body.toString(), /content="\/console\/registry"/);
      assert.match(index.body.toString(), /src="\/console\/registry\/assets\/app-ABCD1234\.js"/);
      assert.equal((await raw(registry.url, `/console/registry/${fixture.script}`)).status, 200);
      assert.equal((await raw(registry.url, '/ui/')).status, 404);
      assert.equal((await raw(registry.url, '/console')).status, 404);
    } finally {
      await registry.close();
    }
  });

  test('not built (tsc alone): 404 saying how to build it, and the registry serves as ever', async () => {
    const registry = await startRegistry({ deps: { uiDirectory: `${fixture.dir}/missing` } });
    try {
      const r = await raw(registry.url, '/ui/');
      assert.equal(r.status, 404);
      assert.match(r.body.toString(), /not built/);
      assert.equal((await raw(registry.url, '/v2/')).status, 200);
    } finally {
      await registry.close();
    }
  });

  test('in token mode the files load without credentials, while /v2 asks for them', async () => {
    let auth: AuthFixture | undefined;
    let registry: TestRegistry | undefined;
    try {
      auth = await authFixture();
      registry = await startRegistry({ config: testConfig({ auth: { htpasswd: { path: auth.htpasswd }, token: { service: 'berth', issuer: 'berth' } } }), deps: { uiDirectory: fixture.dir } });
      assert.equal((await raw(registry.url, '/ui/repo/private/x')).status, 200);
      assert.equal((await raw(registry.url, `/ui/${fixture.script}`)).status, 200);
      const v2 = await raw(registry.url, '/v2/');
      assert.equal(v2.status, 401);
      assert.match(String(v2.headers['www-authenticate']), /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/auth\/token",service="berth"/);
    } finally {
      await registry?.close();
      await auth?.cleanup();
    }
  });

  test("an external token issuer's origin, and only its origin, is added to connect-src; the built-in endpoint adds none", async () => {
    const auth = await authFixture();
    const jwks = path.join(auth.dir, 'issuer.jwks.json');
    await writeFile(jwks, JSON.stringify({ keys: [{ ...(createPublicKey(rsaKey()).export({ format: 'jwk' }) as object), kid: 'k1' }] }));
    const external = { service: 'berth', issuer: 'issuer.example', jwks, server: { enabled: false } };
    const cases: Array<[string, Parameters<typeof testConfig>[0], string]> = [
      ['built-in token server', { auth: { htpasswd: { path: auth.htpasswd }, token: { service: 'berth', issuer: 'berth' } } }, "connect-src 'self';"],
      ['external issuer', { auth: { token: { ...external, realm: 'https://auth.example.com:8443/v1/token?x=1' } } }, "connect-src 'self' https://auth.example.com:8443;"],
      ['external issuer on the public origin (http.host)', { http: { host: 'https://auth.example.com' }, auth: { token: { ...external, realm: 'https://auth.example.com/token' } } }, "connect-src 'self';"],
    ];
    try {
      for (const [label, config, connect] of cases) {
        const registry = await startRegistry({ config: testConfig(config), deps: { uiDirectory: fixture.dir } });
        try {
          for (const target of ['/ui/', `/ui/${fixture.script}`]) {
            const csp = String((await raw(registry.url, target)).headers['content-security-policy']);
            assert.ok(csp.includes(connect), `${label} ${target}: ${csp}`);
            assert.equal(csp.replace(connect, "connect-src 'self';"), CSP, `${label}: nothing else changes`);
          }
        } finally {
          await registry.close();
        }
      }
    } finally {
      await auth.cleanup();
    }
  });

  test('the build: npm run build wrote dist/ui, which the default configuration serves', async () => {
    const registry = await startRegistry();
    try {
      const index = await raw(registry.url, '/ui/');
      assert.equal(index.status, 200, `${DEFAULT_UI_DIRECTORY}: ${index.body.toString()}`);
      const script = /src="(\/ui\/assets\/app-[A-Z0-9]{8}\.js)"/.exec(index.body.toString());
      const style = /href="(\/ui\/assets\/style-[A-Z0-9]{8}\.css)"/.exec(index.body.toString());
      assert.ok(script && style, index.body.toString());
      assert.equal((await raw(registry.url, script[1])).headers['content-type'], 'text/javascript; charset=utf-8');
      assert.equal((await raw(registry.url, style[1])).headers['content-type'], 'text/css; charset=utf-8');
    } finally {
      await registry.close();
    }
  });
});
