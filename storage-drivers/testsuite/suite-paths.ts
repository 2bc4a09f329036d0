import assert from 'node:assert/strict';
import { InvalidPathError } from '../errors';
import type { StorageDriver } from '../types';
import type { DefineTest } from './driver-suite';
import { readAll, walkPaths } from './helpers';

const INVALID = [
  '',
  'a',
  'a/b',
  '/a/',
  '//a',
  '/a//b',
  '/a/./b',
  '/a/../b',
  '/.',
  '/..',
  '/a/.',
  '/a b',
  '/a/b?c',
  '/a/b*',
  '/a\\b',
  '/caf\u00e9',
  '/a/b/',
  '/a\nb',
];

/** Every method, called with `path` where the method takes a path (move: in either position). */
function everyMethod(driver: StorageDriver, path: string, valid: string): [string, () => Promise<unknown>][] {
  return [
    ['getContent', () => driver.getContent(path)],
    ['putContent', () => driver.putContent(path, Buffer.from('x'))],
    ['reader', () => driver.reader(path)],
    ['writer', () => driver.writer(path, { append: false })],
    ['stat', () => driver.stat(path)],
    ['list', () => driver.list(path)],
    ['walk', () => walkPaths(driver, path)],
    ['move from', () => driver.move(path, valid)],
    ['move to', () => driver.move(valid, path)],
    ['delete', () => driver.delete(path)],
    ['redirectUrl', () => driver.redirectUrl(path, { method: 'GET', expiresIn: 60 })],
  ];
}

export function pathTests(define: DefineTest): void {
  define('accepts every valid path form', async (driver, base) => {
    const paths = [
      `${base}/a`,
      `${base}/A.Z_0-9:x/b`,
      `${base}/sha256:0123abc/data`,
      `${base}/.hidden/..dots/...`,
      `${base}/${'x'.repeat(200)}`,
    ];
    for (const [i, path] of paths.entries()) await driver.putContent(path, Buffer.from(`content ${i}`));
    for (const [i, path] of paths.entries()) {
      assert.equal((await driver.getContent(path)).toString(), `content ${i}`);
      assert.equal((await driver.stat(path)).path, path);
    }
    await driver.delete(base);
  });

  define('every method rejects invalid paths with InvalidPathError', async (driver, base) => {
    const valid = `${base}/valid`;
    await driver.putContent(valid, Buffer.from('keep'));
    for (const path of INVALID) {
      for (const [method, call] of everyMethod(driver, path, valid)) {
        await assert.rejects(call, (err: unknown) => {
          assert.ok(err instanceof InvalidPathError, `${method}(${JSON.stringify(path)}) threw ${String(err)}`);
          assert.equal(err.driver, driver.name);
          assert.equal(err.path, path);
          return true;
        });
      }
    }
    assert.equal((await driver.getContent(valid)).toString(), 'keep', 'a rejected move left its source alone');
    await driver.delete(base);
  });

  define('the root is a directory for stat, list and walk only', async (driver, base) => {
    const file = `${base}/file`;
    await driver.putContent(file, Buffer.from('x'));
    const root = await driver.stat('/');
    assert.equal(root.isDir, true);
    assert.deepEqual(await driver.list('/'), [base]);
    assert.deepEqual(await walkPaths(driver, '/'), [base, file]);
    const rootCalls: [string, () => Promise<unknown>][] = [
      ['getContent', () => driver.getContent('/')],
      ['putContent', () => driver.putContent('/', Buffer.from('x'))],
      ['reader', () => driver.reader('/').then(readAll)],
      ['writer', () => driver.writer('/', { append: true })],
      ['move from', () => driver.move('/', `${base}/moved`)],
      ['move to', () => driver.move(file, '/')],
      ['redirectUrl', () => driver.redirectUrl('/', { method: 'HEAD', expiresIn: 60 })],
    ];
    for (const [method, call] of rootCalls) {
      await assert.rejects(call, InvalidPathError, `${method}('/') must reject`);
    }
    await driver.delete(base);
  });
}
