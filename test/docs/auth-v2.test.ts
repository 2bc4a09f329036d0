import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerthProcess } from '../helpers/berth-process';

// This file compiles to dist/test/docs/, so the repository is three levels up.
const DOC = path.resolve(__dirname, '..', '..', '..', 'docs', 'auth.md');

/** docs/auth.md's modes table: mode name to the status its last column gives `GET /v2/` without credentials. */
async function documentedStatuses(): Promise<Map<string, number>> {
  const lines = (await readFile(DOC, 'utf8')).split('\n');
  const header = lines.findIndex((l) => l.startsWith('| mode |'));
  assert.ok(header >= 0, 'docs/auth.md has the modes table');
  const columns = lines[header].split('|').map((c) => c.trim());
  const column = columns.indexOf('`GET /v2/` without credentials');
  assert.ok(column > 0, `the modes table has a column for GET /v2/ without credentials: ${lines[header]}`);
  const statuses = new Map<string, number>();
  for (const row of lines.slice(header + 2)) {
    if (!row.startsWith('|')) break;
    const cells = row.split('|').map((c) => c.trim());
    statuses.set(cells[1], Number(cells[column]));
  }
  return statuses;
}

/** Each mode's configuration, as REGISTRY_* variables of a spawned `berth serve`. */
function modeEnv(mode: string, dir: string): Record<string, string> {
  const htpasswd = { REGISTRY_AUTH_HTPASSWD_PATH: path.join(dir, 'htpasswd'), REGISTRY_AUTH_HTPASSWD_REALM: 'berth' };
  switch (mode) {
    case 'none':
      return {};
    case 'htpasswd':
      return htpasswd;
    case 'token':
      return { ...htpasswd, REGISTRY_AUTH_TOKEN_SERVICE: 'berth', REGISTRY_AUTH_TOKEN_ISSUER: 'berth' };
    default:
      throw new Error(`docs/auth.md names a mode this test does not know: ${mode}`);
  }
}

describe('docs/auth.md: what GET /v2/ answers a client without credentials, per mode', { timeout: 60_000 }, () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-docs-auth-'));
    // No user is needed: the request carries no credentials.
    await writeFile(path.join(dir, 'htpasswd'), '');
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('documents the three modes, and each answers what the table says', async () => {
    const statuses = await documentedStatuses();
    assert.deepEqual([...statuses.keys()], ['none', 'htpasswd', 'token']);
    for (const [mode, documented] of statuses) {
      const berth = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: path.join(dir, 'roots', mode), ...modeEnv(mode, dir) } });
      try {
        const res = await fetch(`${berth.url}/v2/`);
        assert.equal(res.status, documented, `mode ${mode}: GET /v2/ answered ${res.status}, docs/auth.md says ${documented}`);
        // The challenge a 401 carries is what sends docker login to the right scheme.
        if (res.status === 401) assert.match(res.headers.get('www-authenticate') ?? '', mode === 'token' ? /^Bearer / : /^Basic /);
      } finally {
        await berth.stop();
      }
    }
  });
});
