import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { runBerth } from '../helpers/berth-process';
import { requireTools } from '../helpers/tools';
import { COMPOSE, composeProject, REPO_ROOT } from './compose-project';

const skip = requireTools(['docker-compose']);
const SECRETS = {
  BERTH_S3_ACCESS_KEY: 'ACCESSKEYFORTHETEST0',
  BERTH_S3_SECRET_KEY: 'secret-key-for-the-test',
  BERTH_HTTP_SECRET: 'upload-secret-for-the-test-0123456789',
  BERTH_HTPASSWD: './users.htpasswd',
};
// Nothing from this machine's environment: only what each case passes.
const ENV = { PATH: process.env.PATH, HOME: process.env.HOME };

interface Service {
  image?: string;
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition?: string }> | string[];
  stop_grace_period?: string;
}

const config = (files: string[], env: Record<string, string | undefined> = {}) => composeProject(files, 'berthconfig', { ...ENV, ...env }).run(['config'], 60_000, true);

function seconds(duration: string): number {
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!m || duration === '') throw new Error(`unexpected duration ${duration}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

describe('the compose files, as `docker-compose config` reads them', { skip, timeout: 120_000 }, () => {
  it('starts the default stack with no secret in the environment', async () => {
    const result = await config([COMPOSE.base]);
    assert.equal(result.code, 0, result.stderr);
  });

  it('refuses the s3 and token stacks while any of their secrets is missing, naming it', async () => {
    const cases: [string[], (keyof typeof SECRETS)[]][] = [
      [[COMPOSE.base, COMPOSE.s3], ['BERTH_S3_ACCESS_KEY', 'BERTH_S3_SECRET_KEY', 'BERTH_HTTP_SECRET']],
      [[COMPOSE.base, COMPOSE.token], ['BERTH_HTPASSWD']],
    ];
    for (const [files, names] of cases) {
      for (const name of names) {
        const result = await config(files, { ...SECRETS, [name]: undefined });
        assert.notEqual(result.code, 0, `${path.basename(files[1])} started without ${name}`);
        assert.match(result.stderr, new RegExp(`set ${name}`), result.stderr);
      }
      const ok = await config(files, SECRETS);
      assert.equal(ok.code, 0, ok.stderr);
    }
  });

  it('checks every service\'s health, starts each after what it needs is healthy, and lets Berth drain', async () => {
    const result = await config([COMPOSE.base, COMPOSE.s3, COMPOSE.token], SECRETS);
    assert.equal(result.code, 0, result.stderr);
    const services = (parse(result.stdout) as { services: Record<string, Service> }).services;
    assert.deepEqual(Object.keys(services).sort(), ['berth', 'berth-a', 'berth-b', 'berth-token', 'lb', 'rgw']);
    // Berth's own default, as `config check` reports it (the compose stacks do not change it).
    const check = await runBerth(['config', 'check', '--config', path.join(REPO_ROOT, 'deploy/compose/token/config.yml')]);
    assert.equal(check.code, 0, check.stderr);
    // (in milliseconds, as the parsed config holds it)
    const drain = (JSON.parse(check.stdout).http.draintimeout as number) / 1000;
    assert.equal(drain, 30);
    for (const [name, s] of Object.entries(services)) {
      assert.ok(s.healthcheck?.test, `${name} has no healthcheck`);
      for (const [dep, how] of Object.entries(Array.isArray(s.depends_on) ? {} : (s.depends_on ?? {})))
        assert.equal(how.condition, 'service_healthy', `${name} starts before ${dep} is healthy`);
      assert.ok(!Array.isArray(s.depends_on), `${name}: depends_on without conditions`);
      if (!s.image?.startsWith('berth:')) continue;
      // The image has no shell and no curl: the check runs node, in exec form.
      const test = s.healthcheck.test;
      assert.ok(Array.isArray(test), `${name}: a shell-form healthcheck`);
      assert.deepEqual(test.slice(0, 3), ['CMD', 'node', '-e'], name);
      assert.ok(seconds(s.stop_grace_period ?? '10s') > drain, `${name}: stop_grace_period ${s.stop_grace_period} is not longer than the ${drain} s drain`);
    }
    assert.deepEqual(services['lb'].depends_on, { 'berth-a': { condition: 'service_healthy' }, 'berth-b': { condition: 'service_healthy' } });
    assert.deepEqual(services['berth-a'].depends_on, { rgw: { condition: 'service_healthy' } });
  });

  it('sends notifications to the endpoints named in the environment, refusing to start without them', async () => {
    const missing = await config([COMPOSE.base, COMPOSE.notifications]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /set BERTH_NOTIFICATIONS_ENDPOINTS/);
    const endpoints = JSON.stringify([{ name: 'ci', url: 'http://ci.example.com:5050/events', headers: { Authorization: ['Bearer compose-token'] } }]);
    const result = await config([COMPOSE.base, COMPOSE.notifications], { BERTH_NOTIFICATIONS_ENDPOINTS: endpoints, BERTH_NOTIFICATIONS_BACKLOG_FULL: 'refuse' });
    assert.equal(result.code, 0, result.stderr);
    const berth = (parse(result.stdout) as { services: Record<string, Service & { environment: Record<string, string> }> }).services['berth'];
    assert.equal(berth.environment.REGISTRY_NOTIFICATIONS_ENDPOINTS, endpoints);
    const check = await runBerth(['config', 'check'], { env: { ...berth.environment, REGISTRY_STORAGE: 'inmemory' } });
    assert.equal(check.code, 0, check.stderr);
    const n = (JSON.parse(check.stdout) as { notifications: { endpoints: Array<{ name: string }>; backlog: { full: string } } }).notifications;
    assert.deepEqual(
      n.endpoints.map((e) => e.name),
      ['ci'],
    );
    assert.equal(n.backlog.full, 'refuse');
    assert.doesNotMatch(check.stdout, /compose-token/);
  });

  it('runs Berth over HTTPS with the certificate directory mounted, refusing to start without it', async () => {
    const missing = await config([COMPOSE.base, COMPOSE.tls]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /set BERTH_TLS_DIR/);
    const result = await config([COMPOSE.base, COMPOSE.tls], { BERTH_TLS_DIR: '/srv/berth/tls' });
    assert.equal(result.code, 0, result.stderr);
    const tls = (parse(result.stdout) as { services: Record<string, Service & { environment: Record<string, string>; volumes: string[] }> }).services['berth-tls'];
    assert.equal(tls.environment.REGISTRY_HTTP_TLS_CERTIFICATE, '/etc/berth/tls/tls.crt');
    assert.equal(tls.environment.REGISTRY_HTTP_TLS_KEY, '/etc/berth/tls/tls.key');
    // A directory, not the files: a renewal replaces files (or a link) inside it.
    assert.ok(tls.volumes.includes('/srv/berth/tls:/etc/berth/tls:ro'), String(tls.volumes));
    const test = tls.healthcheck?.test;
    // Berth's own check, which follows http.tls and accepts a certificate-required answer under mutual TLS.
    assert.deepEqual(test, ['CMD', 'node', '/app/dist/src/main.js', 'healthcheck']);
    // The stack's empty default for client CAs is accepted by Berth as "none".
    const check = await runBerth(['config', 'check'], { env: { ...tls.environment, REGISTRY_STORAGE: 'inmemory' } });
    assert.equal(check.code, 0, check.stderr);
  });
});
