import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { libtrustKeyId } from '../../auth/keys';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { DISTRIBUTION_BINARY, distributionSkipReason } from '../helpers/distribution';
import { claims, header, tokenFor, writeHtpasswd } from './helpers';
import { rsaKey, sign } from './keys';
import { freePort } from '../helpers/ports';


/** Distribution 2.8 with `auth.token` trusting `certFile`; resolves once /v2/ answers (401). */
async function startTrustingDistribution(dir: string, realm: string, certFile: string): Promise<{ url: string; proc: ChildProcess; logs: () => string }> {
  const port = await freePort();
  const config = path.join(dir, 'distribution.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: {level: debug, accesslog: {disabled: true}}',
      `storage: {filesystem: {rootdirectory: ${JSON.stringify(path.join(dir, 'dist-root'))}}, delete: {enabled: true}}`,
      `http: {addr: "127.0.0.1:${port}", secret: berth-interop}`,
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(realm)}`,
      '    service: berth',
      '    issuer: berth',
      `    rootcertbundle: ${JSON.stringify(certFile)}`,
      '',
    ].join('\n'),
  );
  const proc = spawn(DISTRIBUTION_BINARY, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } });
  let output = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    const status = await fetch(`${url}/v2/`).then((r) => r.status, () => 0);
    if (status === 401) return { url, proc, logs: () => output };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`Distribution did not start:\n${output}`);
}

describe('Distribution 2.8 trusts tokens issued by Berth', async () => {
  const skip = await distributionSkipReason();
  let dir: string;
  let root: string;
  let berth: BerthProcess | undefined;
  let distribution: { url: string; proc: ChildProcess; logs: () => string } | undefined;
  let configFile: string;

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-auth-interop-'));
    root = path.join(dir, 'berth-root');
    await writeHtpasswd(path.join(dir, 'htpasswd'));
    configFile = path.join(dir, 'berth.yml');
    await writeFile(
      configFile,
      [
        `storage: {filesystem: {rootdirectory: ${JSON.stringify(root)}}}`,
        'http: {secret: a-test-secret-of-32-characters!!}',
        'auth:',
        `  htpasswd: {path: ${JSON.stringify(path.join(dir, 'htpasswd'))}}`,
        '  token: {service: berth, issuer: berth}',
        '  accesscontrol:',
        '    repositories:',
        '      "private/**": {policies: [{users: [alice], actions: [pull, push]}]}',
        '',
      ].join('\n'),
    );
    berth = await startBerthProcess({ args: ['--config', configFile] });
  });
  after(async () => {
    const proc = distribution?.proc;
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await berth?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('keys are generated into <rootdirectory>/berth/auth on first start and kept across restarts', { skip }, async () => {
    const first = await tokenFor(berth!.url, 'alice', ['repository:private/app:pull']);
    const keyStat = await stat(path.join(root, 'berth', 'auth', 'token.key'));
    assert.equal(keyStat.mode & 0o077, 0, 'the private key is readable by its owner only');
    await berth!.stop();
    berth = await startBerthProcess({ args: ['--config', configFile] });
    const second = await tokenFor(berth.url, 'alice', ['repository:private/app:pull']);
    assert.equal(header(second).kid, header(first).kid);
    const res = await fetch(`${berth.url}/v2/private/app/tags/list`, { headers: { authorization: `Bearer ${first}` } });
    assert.equal(res.status, 404, 'a token from before the restart is still valid (404: no such repository yet)');
  });

  test('Distribution accepts Berth tokens (x5c and libtrust kid) within their scope only', { skip }, async () => {
    distribution = await startTrustingDistribution(dir, `${berth!.url}/auth/token`, path.join(root, 'berth', 'auth', 'token.crt'));
    const token = await tokenFor(berth!.url, 'alice', ['repository:private/app:pull,push']);
    assert.deepEqual(claims(token).access, [{ type: 'repository', name: 'private/app', actions: ['pull', 'push'] }]);
    const auth = { authorization: `Bearer ${token}` };

    const ping = await fetch(`${distribution.url}/v2/`, { headers: auth });
    assert.equal(ping.status, 200, distribution.logs().slice(-3000));

    const blob = Buffer.from('pushed to Distribution with a Berth token');
    const digest = 'sha256:' + createHash('sha256').update(blob).digest('hex');
    const start = await fetch(`${distribution.url}/v2/private/app/blobs/uploads/`, { method: 'POST', headers: auth });
    assert.equal(start.status, 202, distribution.logs().slice(-3000));
    const loc = new URL(String(start.headers.get('location')), distribution.url);
    loc.searchParams.set('digest', digest);
    const put = await fetch(loc, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: blob });
    assert.equal(put.status, 201);
    const got = await fetch(`${distribution.url}/v2/private/app/blobs/${digest}`, { headers: auth });
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), blob);

    // Outside the token's scope Distribution challenges, pointing at Berth's realm.
    const other = await fetch(`${distribution.url}/v2/private/other/tags/list`, { headers: auth });
    assert.equal(other.status, 401);
    assert.match(String(other.headers.get('www-authenticate')), new RegExp(`realm="${berth!.url}/auth/token"`));

    // A token naming its key by libtrust kid alone (no x5c), as Distribution's own ecosystem signs them.
    const key = createPrivateKey(await readFile(path.join(root, 'berth', 'auth', 'token.key'), 'utf8'));
    const kidOnly = await sign(key, { access: [{ type: 'repository', name: 'private/app', actions: ['pull'] }] }, { kid: libtrustKeyId(key) });
    const byKid = await fetch(`${distribution.url}/v2/private/app/blobs/${digest}`, { headers: { authorization: `Bearer ${kidOnly}` } });
    assert.equal(byKid.status, 200, distribution.logs().slice(-3000));
    await byKid.arrayBuffer();

    // And a token Berth did not sign is refused by Distribution too.
    const forged = await sign(rsaKey(), { access: [{ type: 'repository', name: 'private/app', actions: ['pull'] }] }, { kid: libtrustKeyId(key) });
    assert.equal((await fetch(`${distribution.url}/v2/private/app/tags/list`, { headers: { authorization: `Bearer ${forged}` } })).status, 401);
  });
});
