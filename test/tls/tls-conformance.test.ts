import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../helpers/exec';
import { tlsFixture, type TlsFixture } from './tls-fixture';

// This file compiles to dist/test/tls/; the conformance suite to dist/conformance/.
const CONFORMANCE = path.resolve(__dirname, '..', '..', 'conformance');

describe("Berth's conformance suite over HTTPS", { timeout: 300_000 }, () => {
  let tls: TlsFixture;
  before(async () => {
    tls = await tlsFixture('berth-tls-conformance-');
  });
  after(async () => {
    await tls?.cleanup();
  });

  test('passes in strict mode against a Berth serving TLS, verified with the test CA', async () => {
    const berth = await tls.start();
    // Without this the child would report to this runner in its binary protocol instead of TAP.
    const { NODE_TEST_CONTEXT: _nested, ...env } = process.env;
    // Files, not the directory: from Node 22 on, `--test DIR` takes the directory for a file. TAP
    // explicitly: from Node 23 on the default reporter is spec whatever the output is.
    const files = (await readdir(CONFORMANCE)).filter((f) => f.endsWith('.test.js')).map((f) => path.join(CONFORMANCE, f));
    const result = await run(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...files], {
      env: {
        ...env,
        BERTH_CONFORMANCE_URL: berth.url,
        BERTH_CONFORMANCE_STRICT: '1',
        NODE_EXTRA_CA_CERTS: path.join(tls.work, 'ca.pem'),
      },
      allowFailure: true,
      timeoutMs: 240_000,
    });
    assert.match(berth.url, /^https:/);
    assert.equal(result.code, 0, result.stdout.slice(-4000));
    const passed = Number(/^# pass (\d+)$/m.exec(result.stdout)?.[1]);
    assert.ok(passed > 50, `only ${passed} conformance tests passed`);
    assert.match(result.stdout, /^# fail 0$/m);
  });
});
