import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runBerth, type BerthRun } from '../helpers/berth-process';
import { createCa } from '../helpers/test-ca';

let dir: string;
let caFile: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-mirrors-config-'));
  caFile = path.join(dir, 'upstream-ca.pem');
  await writeFile(caFile, (await createCa('upstream test CA')).certPem);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
async function check(yaml: string, env: Record<string, string> = {}, command = ['config', 'check']): Promise<BerthRun> {
  files += 1;
  const file = path.join(dir, `config-${files}.yml`);
  await writeFile(file, yaml);
  return runBerth([...command, '--config', file], { cwd: dir, env });
}

const mirrors = (...entries: string[][]) => ['mirrors:', ...entries.flatMap((lines) => lines.map((l, i) => `  ${i === 0 ? '- ' : '  '}${l}`)), ''].join('\n');

type Printed = Record<string, unknown> & { mirrors: Array<Record<string, unknown>>; proxy?: Record<string, unknown> };

function printed(r: BerthRun): Printed {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Printed;
}

async function refused(r: Promise<BerthRun>, key: string, ...words: string[]): Promise<void> {
  const run = await r;
  assert.equal(run.code, 1, run.stdout);
  assert.ok(run.stderr.includes(key), `"${run.stderr.trim()}" should name ${key}`);
  for (const w of words) assert.ok(run.stderr.includes(w), `"${run.stderr.trim()}" should say "${w}"`);
  assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
}

describe('config check: mirrors', () => {
  test('a Docker Hub and a GHCR mirror: defaults filled in, passwords left out', async () => {
    const r = await check(
        mirrors(
          ['prefix: docker.io', 'url: https://registry-1.docker.io', 'username: hubuser', 'password: hub-s3cr3t', 'default: true'],
          ['prefix: ghcr.io', 'url: https://ghcr.io/', `ca: ${caFile}`, 'tagttl: 30s', 'stale: 1h', 'ttl: 0', 'namespaces: [ghcr.io, GHCR.example.com:5000]'],
        ),
    );
    const p = printed(r);
    assert.match(r.stderr, /^ {2}mirrors\.0\.password$/m, 'config check says the password is set and left out');
    const [hub, ghcr] = p.mirrors;
    assert.deepEqual(hub, {
      prefix: 'docker.io',
      url: 'https://registry-1.docker.io',
      username: 'hubuser',
      insecure: false,
      ttl: 168 * 3_600_000,
      tagttl: 300_000,
      stale: 168 * 3_600_000,
      namespaces: ['docker.io'],
      dockerhub: true,
      default: true,
    });
    assert.equal(ghcr.url, 'https://ghcr.io', 'a trailing slash is dropped');
    assert.equal(ghcr.ca, caFile);
    assert.equal(ghcr.tagttl, 30_000);
    assert.equal(ghcr.stale, 3_600_000);
    assert.equal(ghcr.ttl, 0);
    assert.deepEqual(ghcr.namespaces, ['ghcr.io', 'ghcr.example.com:5000'], 'namespaces are host names, compared in lower case');
    assert.equal(ghcr.dockerhub, false);
    assert.equal(ghcr.default, false);
    assert.equal(p.proxy, undefined);
    assert.doesNotMatch(p.mirrors.map((m) => JSON.stringify(m)).join(''), /hub-s3cr3t/);
  });

  test('REGISTRY_MIRRORS sets the list as YAML or JSON; dockerhub may be turned off', async () => {
    const p = printed(await check('', { REGISTRY_MIRRORS: '[{prefix: hub, url: "http://127.0.0.1:5001", dockerhub: false, insecure: false}]' }));
    assert.equal(p.mirrors.length, 1);
    assert.equal(p.mirrors[0].prefix, 'hub');
    assert.equal(p.mirrors[0].dockerhub, false);
    assert.deepEqual(p.mirrors[0].namespaces, ['hub']);
  });

  test('dockerhub defaults to true for another host serving docker.io, and may be turned on', async () => {
    const p = printed(
      await check(mirrors(['prefix: docker.io', 'url: https://mirror.gcr.io'], ['prefix: hub2', 'url: https://hub.example.com', 'dockerhub: true'], ['prefix: quay.io', 'url: https://quay.io'])),
    );
    assert.deepEqual(
      p.mirrors.map((m) => m.dockerhub),
      [true, true, false],
    );
  });

  test('no mirrors and no proxy by default', async () => {
    const p = printed(await check(''));
    assert.deepEqual(p.mirrors, []);
    assert.equal(p.proxy, undefined);
  });

  test('mirror.spooldirectory: a directory under the temporary directory by default, set in YAML or REGISTRY_MIRROR_SPOOLDIRECTORY', async () => {
    const byDefault = printed(await check('', { TMPDIR: dir })) as Printed & { mirror: { spooldirectory: string } };
    assert.deepEqual(byDefault.mirror, { spooldirectory: path.join(dir, 'berth-mirror-spool') });
    const yaml = printed(await check('mirror:\n  spooldirectory: /var/spool/berth\n')) as Printed & { mirror: unknown };
    assert.deepEqual(yaml.mirror, { spooldirectory: '/var/spool/berth' });
    const env = printed(await check('', { REGISTRY_MIRROR_SPOOLDIRECTORY: '/srv/spool' })) as Printed & { mirror: unknown };
    assert.deepEqual(env.mirror, { spooldirectory: '/srv/spool' });
    await refused(check('mirror:\n  spooldir: /x\n'), 'mirror.spooldir', 'unknown key');
    await refused(check('mirror:\n  spooldirectory: ""\n'), 'mirror.spooldirectory');
  });

  for (const [why, entries, key, word] of [
    ['a duplicate prefix', [['prefix: docker.io', 'url: https://a.example'], ['prefix: docker.io', 'url: https://b.example']], 'mirrors.1.prefix', 'docker.io'],
    ['a prefix under another', [['prefix: docker.io', 'url: https://a.example'], ['prefix: docker.io/library', 'url: https://b.example']], 'mirrors.1.prefix', 'mirrors.0.prefix'],
    ['a prefix over another', [['prefix: quay.io/org/team', 'url: https://a.example'], ['prefix: quay.io/org', 'url: https://b.example']], 'mirrors.1.prefix', 'mirrors.0.prefix'],
    ['an upper-case prefix', [['prefix: Docker.io', 'url: https://a.example']], 'mirrors.0.prefix', 'repository'],
    ['a prefix with a port', [['prefix: "localhost:5000"', 'url: https://a.example']], 'mirrors.0.prefix', 'namespaces'],
    ['a prefix with a trailing slash', [['prefix: docker.io/', 'url: https://a.example']], 'mirrors.0.prefix', 'repository'],
    ['an empty prefix', [['prefix: ""', 'url: https://a.example']], 'mirrors.0.prefix', 'proxy'],
    ['two defaults', [['prefix: a', 'url: https://a.example', 'default: true'], ['prefix: b', 'url: https://b.example', 'default: true']], 'mirrors.1.default', 'mirrors.0'],
    ['a URL that is not http(s)', [['prefix: a', 'url: ftp://a.example']], 'mirrors.0.url', 'http'],
    ['a URL that is not a URL', [['prefix: a', 'url: registry-1.docker.io']], 'mirrors.0.url', 'http'],
    ['credentials in the URL', [['prefix: a', 'url: https://user:pw@a.example']], 'mirrors.0.url', 'username and password'],
    ['a URL ending in /v2/', [['prefix: a', 'url: https://a.example/v2/']], 'mirrors.0.url', '/v2/'],
    ['a URL with a query', [['prefix: a', 'url: https://a.example/?x=1']], 'mirrors.0.url', 'query'],
    ['a password without a username', [['prefix: a', 'url: https://a.example', 'password: pw']], 'mirrors.0.username', 'password'],
    ['a username without a password', [['prefix: a', 'url: https://a.example', 'username: u']], 'mirrors.0.password', 'username'],
    ['a CA for a plain http upstream', [['prefix: a', 'url: http://a.example', 'ca: /x.pem']], 'mirrors.0.ca', 'https'],
    ['insecure for a plain http upstream', [['prefix: a', 'url: http://a.example', 'insecure: true']], 'mirrors.0.insecure', 'https'],
    ['a CA with insecure', [['prefix: a', 'url: https://a.example', 'ca: /x.pem', 'insecure: true']], 'mirrors.0.ca', 'insecure'],
    ['a namespace that is not a host', [['prefix: a', 'url: https://a.example', 'namespaces: ["https://docker.io"]']], 'mirrors.0.namespaces.0', 'host'],
    ['a namespace served by two mirrors', [['prefix: a', 'url: https://a.example', 'namespaces: [docker.io]'], ['prefix: docker.io', 'url: https://b.example']], 'mirrors.1.namespaces.0', 'mirrors.0'],
    ['a missing URL', [['prefix: a']], 'mirrors.0.url', ''],
    ['an unknown key', [['prefix: a', 'url: https://a.example', 'remoteurl: https://a.example']], 'mirrors.0.remoteurl', 'unknown key'],
    ['an invalid duration', [['prefix: a', 'url: https://a.example', 'tagttl: soon']], 'mirrors.0.tagttl', 'duration'],
    ['a maxsize of 0', [['prefix: a', 'url: https://a.example', 'maxsize: 0']], 'mirrors.0.maxsize', ''],
    ['a maxsize with a unit', [['prefix: a', 'url: https://a.example', 'maxsize: 10GB']], 'mirrors.0.maxsize', 'number'],
  ] as const)
    test(`${why} is refused, naming the key`, async () => {
      await refused(check(mirrors(...entries.map((e) => [...e]))), key, word);
    });

  test('an unreadable CA file stops config check and start-up, naming the key', async () => {
    const missing = path.join(dir, 'no-such-ca.pem');
    const yaml = mirrors(['prefix: ghcr.io', 'url: https://ghcr.io', `ca: ${missing}`]);
    await refused(check(yaml), 'mirrors.0.ca', 'no such file');
    await refused(check(yaml, { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_STORAGE: 'inmemory' }, ['serve']), 'mirrors.0.ca', 'no such file');
  });

  test('a CA file that holds no certificate is refused, naming the key', async () => {
    const notPem = path.join(dir, 'not-a-ca.pem');
    await writeFile(notPem, 'hello\n');
    await refused(check(mirrors(['prefix: ghcr.io', 'url: https://ghcr.io', `ca: ${notPem}`])), 'mirrors.0.ca', 'no PEM certificate');
  });
});

describe('config check: proxy (Distribution)', () => {
  test('REGISTRY_PROXY_* set the keys; ttl defaults to 168h; the password is left out', async () => {
    const r = await check('', { REGISTRY_PROXY_REMOTEURL: 'https://registry-1.docker.io', REGISTRY_PROXY_USERNAME: 'hubuser', REGISTRY_PROXY_PASSWORD: 'hub-s3cr3t' });
    const p = printed(r);
    assert.deepEqual(p.proxy, { remoteurl: 'https://registry-1.docker.io', username: 'hubuser', ttl: 168 * 3_600_000 });
    assert.match(r.stderr, /^ {2}proxy\.password$/m);
    assert.deepEqual(p.mirrors, []);
  });

  test('the YAML keys, with ttl', async () => {
    const p = printed(await check('proxy:\n  remoteurl: http://127.0.0.1:5001/\n  ttl: 24h\n'));
    assert.deepEqual(p.proxy, { remoteurl: 'http://127.0.0.1:5001', ttl: 24 * 3_600_000 });
  });

  test('maxsize in YAML and from REGISTRY_PROXY_MAXSIZE', async () => {
    assert.equal(printed(await check('proxy:\n  remoteurl: http://127.0.0.1:5001/\n  maxsize: 1073741824\n')).proxy?.maxsize, 1073741824);
    assert.equal(printed(await check('', { REGISTRY_PROXY_REMOTEURL: 'https://a.example', REGISTRY_PROXY_MAXSIZE: '5000' })).proxy?.maxsize, 5000);
    assert.equal(printed(await check(mirrors(['prefix: a', 'url: https://a.example', 'maxsize: 2048']))).mirrors[0].maxsize, 2048);
  });

  test('an empty remoteurl (a compose default) leaves the proxy off, as in Distribution', async () => {
    const p = printed(await check('', { REGISTRY_PROXY_REMOTEURL: '' }));
    assert.equal(p.proxy, undefined);
  });

  test('credentials without remoteurl are refused', async () => {
    await refused(check('proxy:\n  username: u\n  password: p\n'), 'proxy.remoteurl', 'username');
  });

  test('a bad ttl from the environment names the variable', async () => {
    await refused(check('', { REGISTRY_PROXY_REMOTEURL: 'https://a.example', REGISTRY_PROXY_TTL: 'forever' }), 'proxy.ttl (from REGISTRY_PROXY_TTL)', 'invalid duration');
  });

  test('a password without a username is refused', async () => {
    await refused(check('', { REGISTRY_PROXY_REMOTEURL: 'https://a.example', REGISTRY_PROXY_PASSWORD: 'p' }), 'proxy.username', 'password');
  });

  test('a remoteurl that is not http(s) is refused', async () => {
    await refused(check('', { REGISTRY_PROXY_REMOTEURL: 'registry-1.docker.io' }), 'proxy.remoteurl', 'http');
  });

  test('proxy together with mirrors is refused, pointing at mirrors', async () => {
    await refused(check('proxy:\n  remoteurl: https://registry-1.docker.io\n' + mirrors(['prefix: ghcr.io', 'url: https://ghcr.io'])), 'proxy', 'default: true');
  });
});
