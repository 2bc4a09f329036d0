import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { formatAddress, parseListenAddress } from '../../src/config/listen-address';
import { redactConfig } from '../../src/config/redact';
import { parseDuration } from '../../src/config/duration';
import { createLogger, redactUrl } from '../../src/logger';

describe('parseDuration', () => {
  test('Go-style durations become milliseconds', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('168h'), 604_800_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5s'), 1500);
  });
  test('plain numbers are milliseconds', () => {
    assert.equal(parseDuration('1000'), 1000);
    assert.equal(parseDuration(42), 42);
  });
  test('anything else is refused', () => {
    for (const bad of ['', 's', '5x', '5 m', '-1s', 'h1', '1d']) assert.throws(() => parseDuration(bad), /invalid duration/, bad);
  });
});

describe('parseListenAddress', () => {
  test('host:port, :port and [v6]:port', () => {
    assert.deepEqual(parseListenAddress(':5000'), { port: 5000 });
    assert.deepEqual(parseListenAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListenAddress('[::1]:5000'), { host: '::1', port: 5000 });
    assert.deepEqual(parseListenAddress('localhost:80'), { host: 'localhost', port: 80 });
  });
  test('refuses what is not an address', () => {
    for (const bad of ['5000', 'a:b', '[::1]', ':70000', '::1:5000']) assert.throws(() => parseListenAddress(bad), /http\.addr/, bad);
  });
  test('formatAddress brackets IPv6 hosts', () => {
    assert.equal(formatAddress('::1', 5000), '[::1]:5000');
    assert.equal(formatAddress('127.0.0.1', 1), '127.0.0.1:1');
  });
});

describe('redaction', () => {
  test('redactUrl hides every _state value and nothing else', () => {
    assert.equal(redactUrl('/v2/a/blobs/uploads/u1?_state=abc.def&digest=sha256:00'), '/v2/a/blobs/uploads/u1?_state=REDACTED&digest=sha256:00');
    assert.equal(redactUrl('/v2/a/blobs/uploads/u1?digest=x&_state=abc'), '/v2/a/blobs/uploads/u1?digest=x&_state=REDACTED');
    assert.equal(redactUrl('/v2/a/tags/list?n=1'), '/v2/a/tags/list?n=1');
    assert.equal(redactUrl('/v2/a?x_state=keep'), '/v2/a?x_state=keep');
  });

  test('the logger drops credentials and _state from what it writes', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const logger = createLogger({ level: 'info', formatter: 'json', accesslog: { disabled: false }, fields: { service: 'berth' } }, sink);
    logger.info(
      { url: '/v2/x/blobs/uploads/1?_state=SECRETSTATE', req: { headers: { authorization: 'Basic SECRETAUTH' } }, password: 'SECRETPW', token: 'SECRETTOKEN' },
      'request',
    );
    logger.debug('hidden at info');
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]) as Record<string, unknown>;
    assert.equal(rec.msg, 'request');
    assert.equal(rec.level, 'info');
    assert.equal(rec.service, 'berth');
    assert.equal(rec.url, '/v2/x/blobs/uploads/1?_state=REDACTED');
    assert.doesNotMatch(lines[0], /SECRET/);
  });

  test('redactConfig hides secrets at any depth and keeps the rest', () => {
    const out = redactConfig({ http: { secret: 's3cr3t-s3cr3t-s3cr3t', addr: ':5000' }, auth: { users: [{ password: 'pw', name: 'a' }] } });
    assert.deepEqual(out, { http: { secret: 'REDACTED', addr: ':5000' }, auth: { users: [{ password: 'REDACTED', name: 'a' }] } });
  });
});
