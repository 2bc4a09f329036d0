import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import bcrypt from 'bcrypt';
import { authConfig, authFixture, basic, startAuthRegistry, type AuthFixture, type AuthRegistry } from './helpers';

let fx: AuthFixture;
let reg: AuthRegistry;

// Users hashed at different costs: none may answer a wrong password faster or slower than an unknown user.
// `near` catches padding that adds a whole comparison at the highest cost (it would take 1.5 times as long).
const COSTS = { cheap: 4, near: 9, dear: 10 };
const USERS = [...Object.keys(COSTS), 'nobody'];

before(async () => {
  fx = await authFixture();
  const lines = await Promise.all(Object.entries(COSTS).map(async ([user, cost]) => `${user}:${await bcrypt.hash(`${user}-pw`, cost)}`));
  await writeFile(fx.htpasswd, lines.join('\n') + '\n');
  reg = await startAuthRegistry(authConfig({ htpasswd: { path: fx.htpasswd }, ratelimit: { maxfailures: 1000 } }));
});
after(async () => {
  await reg?.close();
  await fx?.cleanup();
});

async function failedLogin(user: string): Promise<number> {
  const start = process.hrtime.bigint();
  const res = await fetch(`${reg.url}/v2/`, { headers: { authorization: basic(user, 'a wrong password') } });
  await res.arrayBuffer();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  assert.equal(res.status, 401);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Each user's median time relative to its round's mean, so load from elsewhere that comes and goes
 * between rounds cancels out; the order rotates so no user always goes first.
 */
async function relativeMedians(rounds: number): Promise<number[]> {
  const relative = new Map<string, number[]>(USERS.map((u) => [u, []]));
  for (let round = 0; round < rounds; round++) {
    const times = new Map<string, number>();
    for (let i = 0; i < USERS.length; i++) {
      const u = USERS[(i + round) % USERS.length];
      times.set(u, await failedLogin(u));
    }
    const mean = [...times.values()].reduce((a, b) => a + b) / USERS.length;
    for (const u of USERS) relative.get(u)!.push(times.get(u)! / mean);
  }
  return USERS.map((u) => median(relative.get(u)!));
}

test('a wrong password costs the same for cheap and dear hashes and for an unknown user', { timeout: 180_000 }, async (t) => {
  for (const u of USERS) await failedLogin(u);
  // A loaded machine can skew one measurement; a leak (60 times as long for cost 10 as for cost 4) skews them all.
  let report = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    const medians = await relativeMedians(11);
    report = USERS.map((u, i) => `${u} ${medians[i].toFixed(2)}`).join(', ');
    t.diagnostic(`attempt ${attempt}, median time relative to the round's mean: ${report}`);
    if (Math.max(...medians) / Math.min(...medians) < 1.35) return;
  }
  assert.fail(`failed logins tell users apart: ${report}`);
});
