import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runBerth, type BerthRun } from '../helpers/berth-process';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-notifications-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
async function check(yaml: string): Promise<BerthRun> {
  files += 1;
  const file = path.join(dir, `config-${files}.yml`);
  await writeFile(file, yaml);
  return runBerth(['config', 'check', '--config', file], { cwd: dir });
}

const endpoint = (lines: string[]) => ['notifications:', '  endpoints:', ...lines.map((l) => `    ${l}`), ''].join('\n');

interface Printed {
  notifications: { endpoints: Array<Record<string, unknown>> };
}

describe('config check: notifications.endpoints', () => {
  test("Distribution's keys are accepted, with defaults filled in and header values redacted", async () => {
    const r = await check(
      endpoint([
        '- name: audit',
        '  url: https://audit.example.com/events',
        '  headers:',
        '    Authorization: [Bearer s3cr3t-token]',
        '  timeout: 500ms',
        '  threshold: 5',
        '  backoff: 1s',
        '  ignoredmediatypes: [application/octet-stream]',
        '  ignore:',
        '    mediatypes: [application/vnd.oci.image.config.v1+json]',
        '    actions: [pull]',
        '- name: off',
        '  url: http://127.0.0.1:9/',
        '  disabled: true',
      ]),
    );
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as Printed;
    const [audit, off] = printed.notifications.endpoints;
    assert.equal(audit.timeout, 500);
    assert.equal(audit.threshold, 5);
    assert.equal(audit.backoff, 1000);
    assert.equal(audit.maxbackoff, 300_000);
    assert.deepEqual(audit.ignore, { mediatypes: ['application/vnd.oci.image.config.v1+json'], actions: ['pull'] });
    assert.equal(off.disabled, true);
    assert.doesNotMatch(r.stdout, /s3cr3t/);
  });

  test("Distribution's events.includereferences, its threshold 0 (the default 10) and Berth's maxattempts", async () => {
    const r = await check(['notifications:', '  events:', '    includereferences: true', '  endpoints:', '    - name: a', '      url: http://127.0.0.1:9/', '      threshold: 0', '      maxattempts: 5', ''].join('\n'));
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as Printed & { notifications: { events: { includereferences: boolean } } };
    assert.deepEqual(printed.notifications.events, { includereferences: true });
    assert.equal(printed.notifications.endpoints[0].threshold, 10);
    assert.equal(printed.notifications.endpoints[0].maxattempts, 5);
  });

  for (const [why, lines, key] of [
    ['a URL that is not http(s)', ['- name: a', '  url: ftp://example.com/'], 'notifications.endpoints.0.url'],
    ['a missing URL', ['- name: a'], 'notifications.endpoints.0.url'],
    ['an unknown action', ['- name: a', '  url: http://example.com/', '  ignore:', '    actions: [copy]'], 'notifications.endpoints.0.ignore.actions.0'],
    ['an unknown key', ['- name: a', '  url: http://example.com/', '  retries: 3'], 'notifications.endpoints.0'],
    ['a duplicate name', ['- name: a', '  url: http://example.com/', '- name: a', '  url: http://example.org/'], 'notifications.endpoints.1.name'],
    ['a name that is not a path-safe word', ['- name: a/b', '  url: http://example.com/'], 'notifications.endpoints.0.name'],
    ['a negative maxattempts', ['- name: a', '  url: http://example.com/', '  maxattempts: -1'], 'notifications.endpoints.0.maxattempts'],
  ] as const)
    test(`${why} fails, naming the key`, async () => {
      const r = await check(endpoint([...lines]));
      assert.equal(r.code, 1, r.stdout);
      assert.ok(r.stderr.includes(key), r.stderr);
    });
});
