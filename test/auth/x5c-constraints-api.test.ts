import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { x509 } from '../../auth/x509';
import { createCertificate, type Issued } from '../helpers/test-ca';
import { authConfig, authFixture, startAuthRegistry, type AuthFixture, type AuthRegistry } from './helpers';

const { digitalSignature, keyCertSign, cRLSign, keyEncipherment } = x509.KeyUsageFlags;
const CA_USAGE = keyCertSign | cRLSign;

/** A certificate with exactly these extensions (test/helpers/test-ca.ts). */
const make = createCertificate;

const ca = (pathLength?: number) => [new x509.BasicConstraintsExtension(true, pathLength, true), new x509.KeyUsagesExtension(CA_USAGE, true)];
const leafExt = (usage = digitalSignature) => [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(usage, true)];
const eku = (...usages: string[]) => new x509.ExtendedKeyUsageExtension(usages, false);

const ISSUER = 'auth.example.com';
const SERVICE = 'registry.example.com';

describe('x5c chains are held to key usage, basic constraints, path length and extended key usage', () => {
  let fx: AuthFixture;
  let reg: AuthRegistry;
  let root: Issued;
  let rootNoDepth: Issued;

  before(async () => {
    root = await make('constraints root', ca());
    rootNoDepth = await make('root without depth', ca(0));
    fx = await authFixture();
    const bundle = path.join(fx.dir, 'roots.pem');
    await writeFile(bundle, [root.cert, rootNoDepth.cert].map((c) => c.toString('pem')).join('\n') + '\n');
    reg = await startAuthRegistry(
      authConfig({ token: { realm: `https://${ISSUER}/token`, service: SERVICE, issuer: ISSUER, rootcertbundle: bundle, server: { enabled: false } }, ratelimit: { maxfailures: 1000 } }),
    );
  });
  after(async () => {
    await reg?.close();
    await fx?.cleanup();
  });

  /** The status of a pull with a token signed by `chain[0]`'s key and carrying `chain` as x5c. */
  async function pull(chain: Issued[]): Promise<number> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: chain.map((c) => Buffer.from(c.cert.rawData).toString('base64')) })
      .setIssuer(ISSUER)
      .setAudience(SERVICE)
      .setSubject('robot')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(chain[0].keys.privateKey);
    const res = await fetch(`${reg.url}/v2/team/app/tags/list`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    return res.status;
  }
  const ACCEPTED = 404; // authorized; the repository does not exist

  test('the control: a leaf with digitalSignature and serverAuth under a CA intermediate is accepted', async () => {
    const intermediate = await make('intermediate', ca(), root);
    const leaf = await make('signer', [...leafExt(), eku(x509.ExtendedKeyUsage.serverAuth)], intermediate);
    assert.equal(await pull([leaf, intermediate]), ACCEPTED);
    const direct = await make('direct signer', leafExt(), rootNoDepth);
    assert.equal(await pull([direct]), ACCEPTED, 'pathLenConstraint 0 allows a leaf right below');
  });

  test('a leaf whose keyUsage lacks digitalSignature is refused', async () => {
    const leaf = await make('encipher only', leafExt(keyEncipherment), root);
    assert.equal(await pull([leaf]), 401);
    assert.match(reg.logs(), /keyUsage does not allow digitalSignature/);
  });

  test('an issuer whose keyUsage lacks keyCertSign is refused', async () => {
    const intermediate = await make('no certsign', [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(digitalSignature | cRLSign, true)], root);
    const leaf = await make('signer', leafExt(), intermediate);
    assert.equal(await pull([leaf, intermediate]), 401);
    assert.match(reg.logs(), /keyUsage does not allow keyCertSign/);
  });

  test("an intermediate below a root whose pathLenConstraint is 0 is refused", async () => {
    const intermediate = await make('too deep', ca(), rootNoDepth);
    const leaf = await make('signer', leafExt(), intermediate);
    assert.equal(await pull([leaf, intermediate]), 401);
    assert.match(reg.logs(), /pathLenConstraint 0 exceeded/);
  });

  test('a leaf whose extendedKeyUsage is e-mail protection only is refused', async () => {
    const leaf = await make('mail', [...leafExt(), eku(x509.ExtendedKeyUsage.emailProtection)], root);
    assert.equal(await pull([leaf]), 401);
    assert.match(reg.logs(), /certificate 0: extendedKeyUsage does not allow signing tokens/);
  });

  test("an intermediate's extendedKeyUsage limits its leaves (time-stamping only: refused)", async () => {
    const intermediate = await make('tsa ca', [...ca(), eku(x509.ExtendedKeyUsage.timeStamping)], root);
    const leaf = await make('signer', leafExt(), intermediate);
    assert.equal(await pull([leaf, intermediate]), 401);
    assert.match(reg.logs(), /certificate 1: extendedKeyUsage does not allow signing tokens/);
  });
});
