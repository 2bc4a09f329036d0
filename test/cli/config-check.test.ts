import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAIN_JS, runBerth, startBerthProcess } from '../helpers/berth-process';
import { run } from '../helpers/exec';

const SECRET = 'config-check-secret-0123456789';

/**
 * `berth config check` prints a configuration, not a dump: fed back as is to `config check` and to
 * `serve --config`, it loads; secrets are left out (or with --show-secrets printed) and named on
 * stderr, never replaced by a placeholder; derived values are shown beside it, on stderr.
 */
describe('berth config check: the printed configuration round-trips', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-config-check-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function printed(name: string, args: string[], env: Record<string, string>): Promise<{ file: string; stdout: string; stderr: string }> {
    const r = await runBerth(['config', 'check', ...args], { env, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const file = path.join(dir, name);
    await writeFile(file, r.stdout);
    return { file, stdout: r.stdout, stderr: r.stderr };
  }

  test('filesystem with a secret: the output loads in config check and serve; the secret is left out and named', async () => {
    const env = { REGISTRY_HTTP_SECRET: SECRET, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: path.join(dir, 'store'), REGISTRY_HTTP_HEADERS: '{"X-Frame-Options": ["DENY"]}' };
    const first = await printed('fs.json', [], env);
    const effective = JSON.parse(first.stdout) as { storage: Record<string, unknown>; http: Record<string, unknown> };
    assert.equal(effective.storage.driver, undefined, 'no internal key');
    assert.equal(effective.http.secret, undefined);
    assert.equal(effective.http.workers, 1, 'set (runBerth sets REGISTRY_HTTP_WORKERS=1), so printed');
    assert.doesNotMatch(first.stdout, /REDACTED|config-check-secret/);
    assert.match(first.stderr, /^left out of the printed configuration \(secrets; --show-secrets prints them\):\n {2}http\.secret$/m);
    assert.match(first.stderr, /^ {2}storage\.cache\.ttl: 0ms \(unset, and replicas may share this storage/m, 'the derived ttl, on stderr');

    // Fed back with no environment at all.
    const again = await printed('fs-again.json', ['--config', first.file], {});
    assert.deepEqual(JSON.parse(again.stdout), effective);
    assert.match(again.stderr, /^ {2}storage\.cache\.ttl: 1000ms \(unset, and this process owns its storage\)$/m, 'without the secret the store is its own');
    const berth = await startBerthProcess({ args: ['--config', first.file], env: { REGISTRY_HTTP_ADDR: '127.0.0.1:0' } });
    try {
      assert.equal((await fetch(`${berth.url}/v2/`)).status, 200);
    } finally {
      assert.equal(await berth.stop(), 0);
    }
  });

  test('http.workers left unset is not pinned to this machine\'s CPU count: shown as derived', async () => {
    const r = await run(process.execPath, [MAIN_JS, 'config', 'check'], { env: { PATH: process.env.PATH }, cwd: dir });
    assert.equal((JSON.parse(r.stdout) as { http: { workers?: number } }).http.workers, undefined);
    assert.match(r.stderr, /^ {2}http\.workers: \d+ \(the CPUs available to this process\)$/m);
  });

  test('--show-secrets prints them, and the output loads again to the same configuration', async () => {
    const env = { REGISTRY_STORAGE: 's3', REGISTRY_STORAGE_S3_BUCKET: 'b', REGISTRY_STORAGE_S3_ACCESSKEY: 'ak', REGISTRY_STORAGE_S3_SECRETKEY: 'sk-value', REGISTRY_HTTP_SECRET: SECRET };
    const shown = await printed('s3.json', ['--show-secrets'], env);
    const effective = JSON.parse(shown.stdout) as { storage: Record<string, Record<string, unknown> | undefined>; http: Record<string, unknown> };
    assert.equal(effective.http.secret, SECRET);
    assert.equal(effective.storage.s3?.secretkey, 'sk-value');
    assert.equal(effective.storage.filesystem, undefined, 'one driver: the filesystem default is not printed beside s3');
    assert.doesNotMatch(shown.stderr, /left out/);
    const again = await printed('s3-again.json', ['--config', shown.file, '--show-secrets'], {});
    assert.deepEqual(JSON.parse(again.stdout), effective);
  });

  test('a secret another key needs: the printed configuration says it does not load without it', async () => {
    const env = { REGISTRY_STORAGE: 's3', REGISTRY_STORAGE_S3_BUCKET: 'b', REGISTRY_HTTP_SECRET: SECRET };
    const hidden = await printed('s3-hidden.json', [], env);
    assert.match(hidden.stderr, /^without them the printed configuration does not load \(http\.secret: required with s3 storage/m);
    const r = await runBerth(['config', 'check', '--config', hidden.file], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /http\.secret: required with s3 storage/);
  });
});
