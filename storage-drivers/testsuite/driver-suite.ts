import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { StorageDriver } from '../types';
import { walkPaths } from './helpers';
import { conditionalDeleteTests } from './suite-conditional-delete';
import { contentTests } from './suite-content';
import { exclusiveTests } from './suite-exclusive';
import { leftoverTests } from './suite-leftovers';
import { pathTests } from './suite-paths';
import { statFileTests } from './suite-stat-file';
import { treeTests } from './suite-tree';
import { writerTests } from './suite-writers';

export interface DriverHandle {
  driver: StorageDriver;
  /** Releases whatever makeDriver started or created (directories, servers). */
  cleanup: () => Promise<void>;
}

export interface SuiteOptions {
  /** True when the driver hands out redirect URLs (S3); memory and filesystem return null. */
  redirects?: boolean;
  /** True when a writer's uncommitted bytes lie at its path (filesystem): statFile then reports them. */
  writesInPlace?: boolean;
  /**
   * True when deleteIf is not atomic against a write landing between its read and its delete (S3 on
   * a store that ignores `If-Match` on DeleteObject, as RGW 16 does): the race test is then skipped.
   */
  racyConditionalDelete?: boolean;
}

/**
 * A test body gets the driver and a directory of its own (`base`) that it must delete before it
 * returns: the suite fails any test that leaves something behind.
 */
export type DriverTest = (driver: StorageDriver, base: string, options: SuiteOptions) => Promise<void>;
export type DefineTest = (title: string, body: DriverTest) => void;

/**
 * The behavioural suite every driver must pass (docs/architecture.md, "The storage-driver
 * contract"). It only uses the public contract, so it runs unchanged against any driver.
 */
export function runDriverSuite(
  name: string,
  makeDriver: () => Promise<DriverHandle>,
  options: SuiteOptions = {},
): void {
  describe(`storage driver suite: ${name}`, () => {
    let handle: DriverHandle | undefined;
    let counter = 0;

    before(async () => {
      handle = await makeDriver();
      assert.deepEqual(await walkPaths(handle.driver, '/'), [], 'the suite needs an empty store');
    });
    after(async () => {
      await handle?.cleanup();
    });

    const define: DefineTest = (title, body) => {
      const base = `/t${++counter}-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 40)}`;
      it(title, async () => {
        const driver = (handle as DriverHandle).driver;
        try {
          await body(driver, base, options);
        } catch (err) {
          await driver.delete('/');
          throw err;
        }
        const left = await walkPaths(driver, '/');
        if (left.length > 0) {
          await driver.delete('/');
          assert.fail(`test left behind: ${left.slice(0, 10).join(', ')}`);
        }
      });
    };

    define('the leftover check sees what a test leaves behind', async (driver, base) => {
      await driver.putContent(`${base}/left`, Buffer.from('x'));
      assert.deepEqual(await walkPaths(driver, '/'), [base, `${base}/left`]);
      await driver.delete(base);
      assert.deepEqual(await walkPaths(driver, '/'), []);
    });

    pathTests(define);
    contentTests(define);
    statFileTests(define);
    exclusiveTests(define);
    writerTests(define);
    treeTests(define);
    conditionalDeleteTests(define, options);
    leftoverTests(define);
  });
}
