import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runBerth, type BerthRun } from '../helpers/berth-process';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-notifications-env-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FILE = ['notifications:', '  endpoints:', '    - name: fromfile', '      url: http://file.example.com/events', ''].join('\n');

async function check(env: Record<string, string>, yaml = FILE): Promise<BerthRun> {
  const file = path.join(dir, 'config.yml');
  await writeFile(file, yaml);
  return runBerth(['config', 'check', '--config', file], { cwd: dir, env });
}

interface Printed {
  notifications: { endpoints: Array<Record<string, unknown>>; backlog: { maxevents: number; full: string }; takeover: number };
}
const printed = (r: BerthRun) => JSON.parse(r.stdout) as Printed;

describe('notifications: REGISTRY_NOTIFICATIONS_* overrides', () => {
  test('backlog and takeover are set from the environment', async () => {
    const r = await check({
      REGISTRY_NOTIFICATIONS_BACKLOG_MAXEVENTS: '500',
      REGISTRY_NOTIFICATIONS_BACKLOG_FULL: 'refuse',
      REGISTRY_NOTIFICATIONS_TAKEOVER: '5s',
    });
    assert.equal(r.code, 0, r.stderr);
    const n = printed(r).notifications;
    assert.deepEqual(n.backlog, { maxevents: 500, full: 'refuse' });
    assert.equal(n.takeover, 5_000);
    assert.deepEqual(
      n.endpoints.map((e) => e.name),
      ['fromfile'],
    );
  });

  test('a bad value names the key and the variable', async () => {
    const r = await check({ REGISTRY_NOTIFICATIONS_BACKLOG_FULL: 'drop' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /notifications\.backlog\.full \(from REGISTRY_NOTIFICATIONS_BACKLOG_FULL\)/);
    const n = await check({ REGISTRY_NOTIFICATIONS_BACKLOG_MAXEVENTS: 'many' });
    assert.equal(n.code, 1);
    assert.match(n.stderr, /REGISTRY_NOTIFICATIONS_BACKLOG_MAXEVENTS/);
  });

  test('the endpoints list is replaced whole by a JSON or YAML value, its Authorization redacted', async () => {
    const json = JSON.stringify([{ name: 'ci', url: 'https://ci.example.com/events', headers: { Authorization: ['Bearer env-secret'] }, ignore: { actions: ['pull', 'gc.delete'] } }]);
    const r = await check({ REGISTRY_NOTIFICATIONS_ENDPOINTS: json });
    assert.equal(r.code, 0, r.stderr);
    const [ci, ...rest] = printed(r).notifications.endpoints;
    assert.deepEqual(rest, [], 'the file\'s endpoint is replaced, not merged');
    assert.equal(ci.name, 'ci');
    assert.deepEqual(ci.ignore, { mediatypes: [], actions: ['pull', 'gc.delete'] });
    assert.doesNotMatch(r.stdout, /env-secret/);

    const y = await check({ REGISTRY_NOTIFICATIONS_ENDPOINTS: '- {name: audit, url: "http://audit:5050/events", disabled: true}' });
    assert.equal(y.code, 0, y.stderr);
    assert.deepEqual(
      printed(y).notifications.endpoints.map((e) => [e.name, e.disabled]),
      [['audit', true]],
    );
  });

  test('an invalid endpoints value, or one endpoint key on its own, is refused clearly', async () => {
    const bad = await check({ REGISTRY_NOTIFICATIONS_ENDPOINTS: '[{"name": "x"}' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /notifications\.endpoints \(from REGISTRY_NOTIFICATIONS_ENDPOINTS\): not valid YAML or JSON/);
    const missing = await check({ REGISTRY_NOTIFICATIONS_ENDPOINTS: '[{"name": "x"}]' });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /notifications\.endpoints\.0\.url/);
    const one = await check({ REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL: 'http://x/events' });
    assert.equal(one.code, 1);
    assert.match(one.stderr, /REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL: matches no configuration key/);
  });
});
