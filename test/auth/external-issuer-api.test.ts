import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { authConfig, authFixture, startAuthRegistry, type AuthFixture, type AuthRegistry } from './helpers';
import { ecKey, issued, rsaKey, selfSigned, sign, type Signer } from './keys';

const REALM = 'https://auth.example.com/token';
const ACCESS = [{ type: 'repository', name: 'team/app', actions: ['pull'] }];

describe('token mode trusting an external issuer only', () => {
  let fx: AuthFixture;
  let reg: AuthRegistry;
  let root: Signer;
  let intermediate: Signer;
  let leaf: Signer;
  const jwksKey = rsaKey();

  before(async () => {
    root = await selfSigned(rsaKey(), 'issuer root');
    intermediate = await issued(ecKey(), root, { subject: 'issuer intermediate', ca: true });
    leaf = await issued(ecKey(), intermediate, { subject: 'issuer signing key' });
    fx = await authFixture();
    const bundle = path.join(fx.dir, 'issuers.pem');
    const jwks = path.join(fx.dir, 'issuers.jwks.json');
    await writeFile(bundle, root.pem);
    await writeFile(jwks, JSON.stringify({ keys: [{ ...(createPublicKey(jwksKey).export({ format: 'jwk' }) as object), kid: 'external-1' }] }));
    reg = await startAuthRegistry(
      authConfig({ token: { realm: REALM, service: 'registry.example.com', issuer: 'auth.example.com', rootcertbundle: bundle, jwks, server: { enabled: false } } }),
    );
  });
  after(async () => {
    await reg?.close();
    await fx?.cleanup();
  });

  const get = async (pending?: Promise<string>) => {
    const token = await pending;
    return fetch(`${reg.url}/v2/team/app/tags/list`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  };
  const claims = { iss: 'auth.example.com', aud: 'registry.example.com', access: ACCESS };

  test('challenges point at the configured realm and service; no built-in endpoint is served', async () => {
    const r = await get();
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), `Bearer realm="${REALM}",service="registry.example.com",scope="repository:team/app:pull"`);
    assert.equal((await fetch(`${reg.url}/auth/token`)).status, 404);
  });

  test('tokens signed under the bundle (x5c chain) or by a JWKS key are accepted', async () => {
    const x5c = [leaf.x5c, intermediate.x5c];
    assert.equal((await get(sign(leaf.key, claims, { x5c }))).status, 404, 'authorized (the repository does not exist)');
    assert.equal((await get(sign(jwksKey, claims, { kid: 'external-1' }))).status, 404);
  });

  test("the external issuer's tokens are held to its iss and aud and the registry's scope", async () => {
    const x5c = [leaf.x5c, intermediate.x5c];
    assert.equal((await get(sign(leaf.key, { ...claims, iss: 'berth' }, { x5c }))).status, 401);
    assert.equal((await get(sign(leaf.key, { ...claims, aud: 'berth' }, { x5c }))).status, 401);
    assert.equal((await get(sign(leaf.key, { ...claims, access: [{ type: 'repository', name: 'team/other', actions: ['pull'] }] }, { x5c }))).status, 401);
    const rogue = await selfSigned(ecKey(), 'issuer signing key');
    assert.equal((await get(sign(rogue.key, claims, { x5c: [rogue.x5c] }))).status, 401);
  });
});
