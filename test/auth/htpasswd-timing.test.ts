import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import bcrypt from 'bcrypt';
import { authConfig, authFixture, basic, startAuthRegistry, type AuthFixture, type AuthRegistry } from './helpers';

let fx: AuthFixture;
let reg: AuthRegistry;

before(async () => {
  fx = await authFixture();
  // Users hashed at different costs: the cheap one must not answer faster than the others.
  await writeFile(fx.htpasswd, `cheap:${await bcrypt.hash('cheap-pw', 4)}\ndear:${await bcrypt.hash('dear-pw', 10)}\n`);
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

test('a wrong password costs the same for a cheap hash, a dear hash and an unknown user', { timeout: 120_000 }, async (t) => {
  const users = ['cheap', 'dear', 'nobody'];
  for (const u of users) await failedLogin(u);
  const times: Record<string, number[]> = { cheap: [], dear: [], nobody: [] };
  // Interleaved, so a burst of load from elsewhere hits every user alike.
  for (let i = 0; i < 7; i++) for (const u of users) times[u].push(await failedLogin(u));
  const medians = users.map((u) => median(times[u]));
  const report = users.map((u, i) => `${u} ${medians[i].toFixed(1)} ms`).join(', ');
  t.diagnostic(report);
  assert.ok(Math.max(...medians) / Math.min(...medians) < 1.35, `failed logins tell users apart: ${report}`);
});
