import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LockTable } from '../../src/oci/lock-table';

describe('LockTable: keys held one holder at a time', () => {
  it('a second holder waits for the first and is told it waited; waiters are served in order', async () => {
    const table = new LockTable();
    const first = await table.acquire('k', 1000);
    assert.ok(first);
    assert.equal(first.waited, false);
    const order: string[] = [];
    const second = table.acquire('k', 1000).then((g) => (order.push('second'), g));
    const third = table.acquire('k', 1000).then((g) => (order.push('third'), g));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(order, []);
    first.release();
    const g2 = await second;
    assert.equal(g2?.waited, true);
    assert.deepEqual(order, ['second']);
    g2.release();
    (await third)!.release();
    assert.deepEqual(order, ['second', 'third']);
    assert.equal(table.isHeld('k'), false);
  });

  it('a holder that waited past waitMs gets null, and the key stays with its holder', async () => {
    const table = new LockTable();
    const first = await table.acquire('k', 1000);
    assert.equal(await table.acquire('k', 30), null);
    assert.equal(table.isHeld('k'), true);
    first!.release();
    assert.equal(table.isHeld('k'), false);
  });

  it('other keys are independent; a second release of one grant frees nothing of the next holder', async () => {
    const table = new LockTable();
    const a = await table.acquire('a', 1000);
    assert.equal((await table.acquire('b', 1000))?.waited, false);
    a!.release();
    const next = await table.acquire('a', 1000);
    a!.release();
    assert.equal(await table.acquire('a', 20), null, 'the old grant released the new holder');
    next!.release();
  });

  it('an aborted wait rejects with the reason and leaves the queue', async () => {
    const table = new LockTable();
    const first = await table.acquire('k', 1000);
    const ac = new AbortController();
    const waiting = table.acquire('k', 1000, ac.signal);
    ac.abort(new Error('client went away'));
    await assert.rejects(waiting, /client went away/);
    first!.release();
    assert.equal(table.isHeld('k'), false, 'the aborted waiter was handed the key');
  });

  it("an owner's exit frees what it held for the next waiter and gives up what it waited for", async () => {
    const table = new LockTable();
    const held = await table.acquire('k', 1000, undefined, 1);
    const theirs = table.acquire('k', 1000, undefined, 2);
    const other = await table.acquire('j', 1000, undefined, 3);
    const ownWait = table.acquire('j', 1000, undefined, 1);
    table.releaseOwner(1);
    assert.equal((await theirs)?.waited, true);
    assert.equal(await ownWait, null);
    assert.equal(table.isHeld('j'), true);
    held!.release();
    assert.equal(await table.acquire('k', 20), null, "the exited owner's late release freed the next holder's key");
    other!.release();
    assert.equal(table.isHeld('j'), false);
  });
});
