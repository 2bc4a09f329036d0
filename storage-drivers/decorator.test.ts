import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DriverOperation, withValidation } from './decorator';
import { InvalidPathError, PathNotFoundError } from './errors';
import { MemoryDriver } from './memory/memory-driver';

describe('withValidation', () => {
  it('reports every operation with its outcome, including rejected paths', async () => {
    const calls: [string, DriverOperation, boolean, unknown][] = [];
    const driver = withValidation(new MemoryDriver(), {
      onOperation: (name, op, ms, err) => calls.push([name, op, ms >= 0, err]),
    });
    await driver.putContent('/a', Buffer.from('x'));
    await assert.rejects(driver.getContent('/missing'), PathNotFoundError);
    await assert.rejects(driver.stat('/bad/'), InvalidPathError);
    for await (const info of driver.walk('/')) assert.equal(info.path, '/a');
    assert.deepEqual(
      calls.map(([name, op, timed, err]) => [name, op, timed, (err as Error | undefined)?.constructor.name]),
      [
        ['memory', 'putContent', true, undefined],
        ['memory', 'getContent', true, 'PathNotFoundError'],
        ['memory', 'stat', true, 'InvalidPathError'],
        ['memory', 'walk', true, undefined],
      ],
    );
  });
});
