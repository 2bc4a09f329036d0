import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function yamlFile(name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

async function rejectsNaming(p: Promise<unknown>, ...parts: string[]): Promise<string> {
  let message = '';
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    message = err.message;
    return true;
  });
  assert.ok(!message.includes('\n'), `message is one line: ${message}`);
  for (const part of parts) assert.ok(message.includes(part), `"${message}" should mention "${part}"`);
  return message;
}

describe('loadConfig defaults', () => {
  test('no file and no env serve :5000 from ./data with deletes enabled', async () => {
    const c = await loadConfig({ env: {} });
    assert.equal(c.http.addr, ':5000');
    assert.equal(c.storage.driver, 'filesystem');
    assert.equal(c.storage.filesystem.rootdirectory, './data');
    assert.equal(c.storage.delete.enabled, true);
    assert.equal(c.validation.manifests.maxsize, 4 * 1024 * 1024);
    assert.equal(c.log.level, 'info');
    assert.equal(c.http.draintimeout, 30_000);
    assert.equal(c.storage.maintenance.uploadpurging.age, 168 * 3_600_000);
  });

  test('the result is deeply frozen', async () => {
    const c = await loadConfig({ env: {} });
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.storage.filesystem));
    assert.throws(() => {
      (c.http as { addr: string }).addr = ':1';
    }, TypeError);
  });

  test('unrelated environment variables are ignored', async () => {
    const c = await loadConfig({ env: { HOME: '/root', REGISTRYX: '1', PATH: '/bin' } });
    assert.equal(c.http.addr, ':5000');
  });
});

describe('loadConfig YAML file', () => {
  const yaml = [
    'version: 0.1',
    'log:',
    '  level: debug',
    'storage:',
    '  filesystem:',
    '    rootdirectory: /var/lib/berth',
    '  delete:',
    '    enabled: false',
    '  maintenance:',
    '    uploadpurging:',
    '      age: 2h',
    'http:',
    '  addr: "[::1]:5001"',
    '  secret: a-secret-of-enough-length',
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    'validation:',
    '  manifests:',
    '    maxsize: 1000',
    '',
  ].join('\n');

  test('--config FILE is read', async () => {
    const file = await yamlFile('full.yml', yaml);
    const c = await loadConfig({ file, env: {} });
    assert.equal(c.log.level, 'debug');
    assert.equal(c.storage.filesystem.rootdirectory, '/var/lib/berth');
    assert.equal(c.storage.delete.enabled, false);
    assert.equal(c.storage.maintenance.uploadpurging.age, 2 * 3_600_000);
    assert.equal(c.http.addr, '[::1]:5001');
    assert.deepEqual(c.http.headers, { 'X-Content-Type-Options': ['nosniff'] });
    assert.equal(c.validation.manifests.maxsize, 1000);
  });

  test('REGISTRY_CONFIGURATION_PATH names the file; --config wins over it', async () => {
    const a = await yamlFile('a.yml', 'http:\n  addr: ":6001"\n');
    const b = await yamlFile('b.yml', 'http:\n  addr: ":6002"\n');
    assert.equal((await loadConfig({ env: { REGISTRY_CONFIGURATION_PATH: a } })).http.addr, ':6001');
    assert.equal((await loadConfig({ file: b, env: { REGISTRY_CONFIGURATION_PATH: a } })).http.addr, ':6002');
  });

  test('a relative file is resolved against cwd', async () => {
    await yamlFile('rel.yml', 'http:\n  addr: ":6003"\n');
    assert.equal((await loadConfig({ file: 'rel.yml', env: {}, cwd: dir })).http.addr, ':6003');
  });

  test('an empty file means defaults', async () => {
    const file = await yamlFile('empty.yml', '# nothing\n');
    assert.equal((await loadConfig({ file, env: {} })).http.addr, ':5000');
  });

  test('a missing file is an error naming it', async () => {
    await rejectsNaming(loadConfig({ file: path.join(dir, 'nope.yml'), env: {} }), 'nope.yml', 'no such file');
  });

  test('a YAML syntax error names the file and line', async () => {
    const file = await yamlFile('broken.yml', 'http:\n  addr: ":5000"\n  headers: [\nstorage: {}\n');
    await rejectsNaming(loadConfig({ file, env: {} }), `${file}:4:`, 'YAML');
  });

  test('a top level that is not a mapping is an error', async () => {
    const file = await yamlFile('list.yml', '- a\n- b\n');
    await rejectsNaming(loadConfig({ file, env: {} }), 'list.yml', 'mapping');
  });

  test('an unknown key is an error naming its full path', async () => {
    const file = await yamlFile('unknown.yml', 'storage:\n  filesystem:\n    rootdir: /x\n');
    const msg = await rejectsNaming(loadConfig({ file, env: {} }), 'storage.filesystem.rootdir', 'unknown key');
    assert.equal(msg, 'config: storage.filesystem.rootdir: unknown key');
  });

  test('a GC quiet period longer than pushes wait for a collection is refused, naming the key', async () => {
    const ok = await yamlFile('quiet-ok.yml', 'storage:\n  maintenance:\n    gc:\n      quietperiod: 60s\n');
    assert.equal((await loadConfig({ file: ok, env: {} })).storage.maintenance.gc.quietperiod, 60_000);
    const file = await yamlFile('quiet.yml', 'storage:\n  maintenance:\n    gc:\n      quietperiod: 2m\n');
    await rejectsNaming(loadConfig({ file, env: {} }), 'storage.maintenance.gc.quietperiod', 'at most 60s');
  });

  test('an unknown top-level section is an error', async () => {
    const file = await yamlFile('top.yml', 'frobnicate: {}\n');
    await rejectsNaming(loadConfig({ file, env: {} }), 'frobnicate', 'unknown key');
  });

  test('bad values are errors naming the key', async () => {
    const cases: Array<[string, string]> = [
      ['http:\n  addr: localhost\n', 'http.addr'],
      ['http:\n  addr: ":99999"\n', 'http.addr'],
      ['http:\n  debug:\n    addr: ":70000"\n', 'http.debug.addr'],
      ['http:\n  draintimeout: soon\n', 'http.draintimeout'],
      ['storage:\n  delete:\n    enabled: "yes please"\n', 'storage.delete.enabled'],
      ['validation:\n  manifests:\n    maxsize: -1\n', 'validation.manifests.maxsize'],
      ['log:\n  level: loud\n', 'log.level'],
      ['http:\n  secret: short\n', 'http.secret'],
    ];
    for (const [text, key] of cases) {
      const file = await yamlFile('bad.yml', text);
      await rejectsNaming(loadConfig({ file, env: {} }), `config: ${key}:`);
    }
  });

  test('two storage drivers at once are refused', async () => {
    const file = await yamlFile('two.yml', 'storage:\n  filesystem:\n    rootdirectory: /x\n  inmemory:\n');
    await rejectsNaming(loadConfig({ file, env: {} }), 'storage', 'only one storage driver');
  });
});

describe('loadConfig environment overrides', () => {
  test('the two from the issue', async () => {
    const c = await loadConfig({
      env: { REGISTRY_HTTP_ADDR: '127.0.0.1:5055', REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/some/dir' },
    });
    assert.equal(c.http.addr, '127.0.0.1:5055');
    assert.equal(c.storage.driver, 'filesystem');
    assert.equal(c.storage.filesystem.rootdirectory, '/some/dir');
  });

  test('env overrides the file, key by key', async () => {
    const file = await yamlFile('base.yml', 'http:\n  addr: ":7000"\n  relativeurls: true\nstorage:\n  filesystem:\n    rootdirectory: /from/file\n');
    const c = await loadConfig({ file, env: { REGISTRY_HTTP_ADDR: '127.0.0.1:7001' } });
    assert.equal(c.http.addr, '127.0.0.1:7001');
    assert.equal(c.http.relativeurls, true);
    assert.equal(c.storage.filesystem.rootdirectory, '/from/file');
  });

  test('values are coerced to booleans, numbers, durations and enums', async () => {
    const c = await loadConfig({
      env: {
        REGISTRY_STORAGE_DELETE_ENABLED: 'false',
        REGISTRY_VALIDATION_MANIFESTS_MAXSIZE: '1000',
        REGISTRY_LOG_LEVEL: 'debug',
        REGISTRY_HTTP_DRAINTIMEOUT: '1m30s',
        REGISTRY_HTTP_KEEPALIVETIMEOUT: '2500',
        REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED: 'TRUE',
        REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS: '50',
      },
    });
    assert.equal(c.storage.delete.enabled, false);
    assert.equal(c.validation.manifests.maxsize, 1000);
    assert.equal(c.log.level, 'debug');
    assert.equal(c.http.draintimeout, 90_000);
    assert.equal(c.http.keepalivetimeout, 2500);
    assert.equal(c.storage.maintenance.uploadpurging.enabled, true);
    assert.equal(c.storage.filesystem.maxthreads, 50);
  });

  test('maps take YAML or JSON text, whole or one entry at a time', async () => {
    const whole = await loadConfig({ env: { REGISTRY_HTTP_HEADERS: '{"X-A": ["1", "2"]}' } });
    assert.deepEqual(whole.http.headers, { 'X-A': ['1', '2'] });
    const entry = await loadConfig({ env: { REGISTRY_LOG_FIELDS_SERVICE: 'berth' } });
    assert.deepEqual(entry.log.fields, { service: 'berth' });
  });

  test('REGISTRY_STORAGE=inmemory selects the memory driver over a file that names filesystem', async () => {
    const file = await yamlFile('fs.yml', 'storage:\n  filesystem:\n    rootdirectory: /x\n  delete:\n    enabled: false\n');
    const c = await loadConfig({ file, env: { REGISTRY_STORAGE: 'inmemory' } });
    assert.equal(c.storage.driver, 'inmemory');
    assert.equal(c.storage.delete.enabled, false, 'settings shared by every driver are kept');
    const plain = await loadConfig({ env: { REGISTRY_STORAGE: 'filesystem' } });
    assert.equal(plain.storage.driver, 'filesystem');
  });

  test('REGISTRY_STORAGE with an unknown driver is an error', async () => {
    await rejectsNaming(loadConfig({ env: { REGISTRY_STORAGE: 'floppy' } }), 'REGISTRY_STORAGE', 'floppy');
  });

  test('a REGISTRY_ variable that matches no key is an error naming it', async () => {
    await rejectsNaming(loadConfig({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIR: '/x' } }), 'REGISTRY_STORAGE_FILESYSTEM_ROOTDIR');
    await rejectsNaming(loadConfig({ env: { REGISTRY_HTTP_ADDR_PORT: '1' } }), 'REGISTRY_HTTP_ADDR_PORT');
    await rejectsNaming(loadConfig({ env: { REGISTRY_: '1' } }), 'REGISTRY_');
  });

  test('bad env values are errors naming the key and the variable', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ REGISTRY_HTTP_ADDR: 'nope' }, 'http.addr (from REGISTRY_HTTP_ADDR)'],
      [{ REGISTRY_HTTP_DRAINTIMEOUT: '5 minutes' }, 'http.draintimeout (from REGISTRY_HTTP_DRAINTIMEOUT)'],
      [{ REGISTRY_STORAGE_DELETE_ENABLED: 'maybe' }, 'storage.delete.enabled (from REGISTRY_STORAGE_DELETE_ENABLED)'],
      [{ REGISTRY_VALIDATION_MANIFESTS_MAXSIZE: '4MiB' }, 'validation.manifests.maxsize (from REGISTRY_VALIDATION_MANIFESTS_MAXSIZE)'],
      [{ REGISTRY_HTTP_HEADERS: '{"X-A": "not-a-list"}' }, 'http.headers.X-A'],
      [{ REGISTRY_HTTP_HEADERS: '{oops' }, 'REGISTRY_HTTP_HEADERS'],
    ];
    for (const [env, key] of cases) await rejectsNaming(loadConfig({ env }), key);
  });

  test('REGISTRY_CONFIGURATION_PATH is not taken for a key', async () => {
    const file = await yamlFile('ok.yml', '{}\n');
    await loadConfig({ env: { REGISTRY_CONFIGURATION_PATH: file } });
  });
});
