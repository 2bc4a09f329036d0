import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load';
import { SecretPolicy } from '../../src/insight/secret-policy';
import { redactConfig } from '../../src/config/redact';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-insight-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(yaml: string, env: Record<string, string> = {}) {
  const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yml`);
  await writeFile(file, yaml);
  return loadConfig({ env: { REGISTRY_CONFIGURATION_PATH: file, ...env } });
}

describe('insight config', () => {
  test('defaults: on, in one child process, one analysis at a time, secrets reported, a minute of waiting under deny', async () => {
    const c = await loadConfig({ env: {} });
    assert.deepEqual(c.insight, { enabled: true, runner: 'child', processes: 1, concurrency: 1, pollinterval: 2000, secretheadbytes: 65536, wait: 60_000, ontimeout: 'refuse', repositories: {} });
  });

  test('durations, environment overrides and per-repository rules', async () => {
    const c = await load(['insight:', '  wait: 90s', '  repositories:', '    "team/**": {secrets: deny, allow: {paths: ["**/testdata/**"]}}', ''].join('\n'), {
      REGISTRY_INSIGHT_ENABLED: 'false',
      REGISTRY_INSIGHT_CONCURRENCY: '2',
      REGISTRY_INSIGHT_RUNNER: 'inline',
      REGISTRY_INSIGHT_PROCESSES: '3',
    });
    assert.equal(c.insight.processes, 3);
    assert.equal(c.insight.enabled, false);
    assert.equal(c.insight.runner, 'inline');
    assert.equal(c.insight.concurrency, 2);
    assert.equal(c.insight.wait, 90_000);
    assert.deepEqual(c.insight.repositories['team/**'], { secrets: 'deny', allow: { paths: ['**/testdata/**'], rules: [] } });
  });

  test('config check shows the policy and the bounds: they name secrets, they hold none', async () => {
    const c = await load('insight: {repositories: {"a/*": {secrets: deny}}}\n');
    const shown = redactConfig(c) as { insight: { secretheadbytes: unknown; repositories: Record<string, { secrets: unknown }> } };
    assert.equal(shown.insight.secretheadbytes, 65536);
    assert.equal(shown.insight.repositories['a/*'].secrets, 'deny');
    assert.equal((redactConfig({ http: { secret: 'x' } }) as { http: { secret: unknown } }).http.secret, 'REDACTED');
  });

  test('an unknown mode or key is refused with its path', async () => {
    await assert.rejects(load('insight: {repositories: {"a/*": {secrets: block}}}\n'), (err: unknown) => err instanceof ConfigError && /insight\.repositories\.a\/\*\.secrets/.test(err.message));
    await assert.rejects(load('insight: {processes: 0}\n'), (err: unknown) => err instanceof ConfigError && /insight\.processes/.test(err.message));
    await assert.rejects(load('insight: {secret: deny}\n'), (err: unknown) => err instanceof ConfigError && /insight/.test(err.message) && /secret/.test(err.message));
  });
});

describe('the secret policy', () => {
  const policy = new SecretPolicy({
    '**': { secrets: 'warn', allow: { paths: [], rules: [] } },
    'team/**': { secrets: 'deny', allow: { paths: ['**/testdata/**', 'config.Env[*]'], rules: ['jwt'] } },
    'team/legacy': { secrets: 'off', allow: { paths: [], rules: [] } },
  });

  test('the longest matching glob decides; no match is warn', () => {
    assert.equal(policy.for('team/app').mode, 'deny');
    assert.equal(policy.for('team/a/b').mode, 'deny');
    assert.equal(policy.for('team/legacy').mode, 'off');
    assert.equal(policy.for('other').mode, 'warn');
    assert.equal(new SecretPolicy({}).for('x').mode, 'warn');
  });

  test('allow-lists by path glob and by rule', () => {
    const team = policy.for('team/app');
    const finding = (path: string, rule: string) => ({ path, rule, fingerprint: `${rule}:****…:0` });
    assert.equal(team.allows(finding('src/testdata/key.pem', 'private-key')), true);
    assert.equal(team.allows(finding('config.Env[3]', 'credential-variable')), true);
    assert.equal(team.allows(finding('app/token', 'jwt')), true);
    assert.equal(team.allows(finding('root/.ssh/id_rsa', 'private-key')), false);
    assert.equal(policy.for('other').allows(finding('src/testdata/key.pem', 'private-key')), false);
  });
});
