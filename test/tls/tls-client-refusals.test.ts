import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BerthProcess } from '../helpers/berth-process';
import { createCa, issue, type Issued } from '../helpers/test-ca';
import { eventually, httpsRequest } from './tls-client';
import { tlsFixture, type TlsFixture } from './tls-fixture';

// Node drops a client certificate that fails verification without an alert: the client sees a
// reset. The operator must see why, in Berth's log, without being flooded.

let fixture: TlsFixture;
let expired: Issued;

before(async () => {
  fixture = await tlsFixture('berth-tls-refusals-');
  expired = await issue(fixture.ca, 'old builder', { usage: 'client', notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
});
after(() => fixture.cleanup());

interface Refusal {
  msg: string;
  reason?: string;
  remote?: string;
  suppressed?: number;
  reasons?: Record<string, number>;
}

function refusals(berth: BerthProcess, msg = 'client certificate refused'): Refusal[] {
  return berth
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Refusal)
    .filter((r) => r.msg === msg);
}

const attempt = (berth: BerthProcess, client?: Issued) =>
  httpsRequest(`${berth.url}/v2/`, { ca: fixture.ca.certPem, cert: client?.certPem, key: client?.keyPem });

describe('client certificates that fail verification are logged', () => {
  test('an expired certificate is refused and logged with its reason and the peer address; a client without one is not logged', async () => {
    const berth = await fixture.start({ mutual: true });
    await assert.rejects(attempt(berth), /certificate required/i, 'no certificate: the clean TLS 1.3 alert');
    await assert.rejects(attempt(berth, expired), /ECONNRESET|socket hang up/);
    await eventually('the refusal in the log', () => refusals(berth).length > 0);
    const [line, ...more] = refusals(berth);
    assert.equal(line.reason, 'CERT_HAS_EXPIRED');
    assert.equal(line.remote, '127.0.0.1');
    assert.deepEqual(more, [], 'the client without a certificate was told by its alert, not logged');
  });

  test('a certificate from another CA is logged with its reason', async () => {
    const berth = await fixture.start({ mutual: true });
    const foreign = await issue(await createCa('other root'), 'intruder', { usage: 'client' });
    await assert.rejects(attempt(berth, foreign), /ECONNRESET|socket hang up/);
    await eventually('the refusal in the log', () => refusals(berth).length > 0);
    assert.equal(refusals(berth)[0].reason, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  test('a flood is rate-limited: a few lines, then one summary with the count', async () => {
    const berth = await fixture.start({ mutual: true });
    const tries = 30;
    for (let i = 0; i < tries; i++) await assert.rejects(attempt(berth, expired));
    await eventually('the summary', () => refusals(berth, 'more client certificates refused').length > 0, 20_000);
    const logged = refusals(berth);
    assert.ok(logged.length >= 1 && logged.length <= 5, `${logged.length} lines`);
    const [summary] = refusals(berth, 'more client certificates refused');
    assert.equal(summary.suppressed, tries - logged.length);
    assert.deepEqual(summary.reasons, { CERT_HAS_EXPIRED: tries - logged.length });
  });
});
