import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader } from 'jose';
import { libtrustKeyId, parseJwks, publicJwk } from '../../auth/keys';
import { TokenIssuer } from '../../auth/token-issue';
import { verifyToken } from '../../auth/token-verify';
import { TrustStore } from '../../auth/trust';
import { derOf, parseCertificateBundle } from '../../auth/x509';
import { b64, ecKey, issued, rsaKey, selfSigned, sign, signHmac } from './keys';

const jwkThumbprint = (key: Parameters<typeof publicJwk>[0]) => calculateJwkThumbprint(publicJwk(key));

const opts = (trust: TrustStore) => ({ trust, issuer: 'berth', audience: 'berth' });
const ACCESS = [{ type: 'repository', name: 'a/b', actions: ['pull'] }];

describe('key ids', () => {
  test('RFC 7638 thumbprint matches the RFC example', async () => {
    // RFC 7638 §3.1
    const key = createPublicKey({
      format: 'jwk',
      key: {
        kty: 'RSA',
        e: 'AQAB',
        n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      },
    });
    assert.equal(await jwkThumbprint(key), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  test('libtrust key id: 12 groups of 4 base32 characters of the SPKI hash', () => {
    const key = ecKey();
    const id = libtrustKeyId(key);
    assert.match(id, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    // Decoding the groups gives back the first 30 bytes of sha256(SPKI DER).
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = '';
    for (const c of id.replace(/:/g, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
    const bytes = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    assert.deepEqual(bytes, createHash('sha256').update(spki).digest().subarray(0, 30));
  });
});

describe('token verification', () => {
  for (const kind of ['rsa', 'ec'] as const) {
    test(`${kind}: a token found by libtrust kid, thumbprint, x5c or its own key embedded as jwk is accepted`, async () => {
      const key = kind === 'rsa' ? rsaKey() : ecKey();
      const signer = await selfSigned(key);
      const trust = new TrustStore();
      await trust.addCertificate(signer.cert);
      for (const header of [
        { kid: libtrustKeyId(key) },
        { kid: await jwkThumbprint(key) },
        { x5c: [signer.x5c] },
        { jwk: publicJwk(key) },
      ]) {
        const c = await verifyToken(await sign(key, { access: ACCESS }, header), opts(trust));
        assert.deepEqual(c.access, ACCESS);
        assert.equal(c.sub, 'alice');
      }
    });
  }

  const key = rsaKey();
  const kid = libtrustKeyId(key);
  const trust = new TrustStore();
  let signer: Awaited<ReturnType<typeof selfSigned>>;
  before(async () => {
    signer = await selfSigned(key);
    await trust.addCertificate(signer.cert);
  });
  const rejects = async (token: string | Promise<string>, re?: RegExp) => assert.rejects(verifyToken(await token, opts(trust)), re ?? /./);

  test('alg none is rejected', async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = b64({ iss: 'berth', aud: 'berth', sub: 'alice', exp: now + 300, access: ACCESS });
    await rejects(`${b64({ alg: 'none', typ: 'JWT', kid })}.${payload}.`);
    await rejects(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`);
  });

  test('HS256 signed with the public key (PEM or DER) as the secret is rejected', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: 'berth', aud: 'berth', sub: 'alice', exp: now + 300, access: ACCESS };
    for (const secret of [
      createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string,
      signer.pem,
      createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64'),
    ]) {
      await rejects(signHmac(secret, claims, { kid }), /algorithm not allowed/);
      await rejects(signHmac(secret, claims, { x5c: [signer.x5c] }), /algorithm not allowed/);
    }
  });

  test('wrong issuer or audience is rejected', async () => {
    await rejects(sign(key, { iss: 'someone-else' }, { kid }), /issuer/);
    await rejects(sign(key, { aud: 'other-service' }, { kid }), /audience/);
  });

  test('expiry and not-before, with 60 s leeway', async () => {
    const now = Math.floor(Date.now() / 1000);
    await rejects(sign(key, { exp: now - 120, nbf: now - 600, iat: now - 600 }, { kid }), /expired/);
    await rejects(sign(key, { nbf: now + 120 }, { kid }), /not active/);
    await verifyToken(await sign(key, { exp: now - 30, nbf: now - 600, iat: now - 600 }, { kid }), opts(trust));
    await verifyToken(await sign(key, { nbf: now + 30 }, { kid }), opts(trust));
    await rejects(sign(key, { exp: undefined }, { kid }), /exp/);
  });

  test('a tampered access claim breaks the signature', async () => {
    const token = await sign(key, { access: ACCESS }, { kid });
    const [h, , s] = token.split('.');
    const payload = { ...(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>), access: [{ type: 'repository', name: 'a/b', actions: ['pull', 'push'] }] };
    await rejects(`${h}.${b64(payload)}.${s}`, /signature/);
  });

  test('an algorithm that does not fit the key is rejected (RS key, ES alg claimed; RS512 downgrade fine)', async () => {
    const ec = ecKey();
    const t2 = new TrustStore();
    await t2.addKey(createPublicKey(ec));
    // A token claiming RS256 for an EC key's kid.
    const forged = await sign(key, {}, { kid: libtrustKeyId(ec) }, 'RS256');
    await assert.rejects(verifyToken(forged, opts(t2)), /does not fit/);
    // ES384 (by a P-384 key) for a P-256 key's kid.
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    await assert.rejects(verifyToken(await sign(p384, {}, { kid: libtrustKeyId(ec) }, 'ES384'), opts(t2)), /does not fit/);
    await verifyToken(await sign(key, {}, { kid }, 'RS512'), opts(trust));
  });

  test('keys that are not trusted, or tokens naming no key, are rejected', async () => {
    const stranger = rsaKey();
    await rejects(sign(stranger, {}, { kid: libtrustKeyId(stranger) }), /unknown kid/);
    await rejects(sign(stranger, {}, { kid }), /signature/);
    await rejects(sign(stranger, {}, { x5c: [(await selfSigned(stranger)).x5c] }), /trusted/);
    await rejects(sign(stranger, {}, { jwk: publicJwk(stranger) }), /embedded jwk is not a trusted key/);
    await rejects(sign(stranger, {}, { jwk: publicJwk(key) }), /signature/);
    await rejects(sign(key, {}, {}), /names no key/);
    await rejects(sign(key, {}, { x5c: 'not-an-array' }), /malformed x5c/);
    await rejects(sign(key, {}, { x5c: ['bm90IGEgY2VydA=='] }), /unparsable/);
  });

  test('a malformed access claim is rejected', async () => {
    await rejects(sign(key, { access: [{ type: 'repository', name: 'a', actions: 'pull' }] }, { kid }), /access/);
    await rejects('not.a.token');
    await rejects('');
  });
});

describe('external issuers', () => {
  test('x5c chains: leaf ← intermediate ← trusted root', async () => {
    const root = await selfSigned(ecKey(), 'root ca');
    const intermediate = await issued(rsaKey(), root, { subject: 'intermediate ca', ca: true });
    const leaf = await issued(ecKey(), intermediate, { subject: 'token signer' });
    const trust = new TrustStore();
    for (const c of parseCertificateBundle(root.pem)) await trust.addCertificate(c);
    const x5c = [leaf.x5c, intermediate.x5c];
    const c = await verifyToken(await sign(leaf.key, { access: ACCESS }, { x5c }), opts(trust));
    assert.deepEqual(c.access, ACCESS);
    // The chain may also end with the root itself.
    await verifyToken(await sign(leaf.key, {}, { x5c: [...x5c, root.x5c] }), opts(trust));

    // Signed by another key than the leaf's.
    await assert.rejects(verifyToken(await sign(ecKey(), {}, { x5c }), opts(trust)), /signature/);
    // Missing intermediate: the leaf alone does not lead to the root.
    await assert.rejects(verifyToken(await sign(leaf.key, {}, { x5c: [x5c[0]] }), opts(trust)), /trusted/);
    // A chain under another root.
    const otherRoot = await selfSigned(ecKey(), 'root ca');
    const otherLeaf = await issued(ecKey(), otherRoot, { subject: 'token signer' });
    await assert.rejects(verifyToken(await sign(otherLeaf.key, {}, { x5c: [otherLeaf.x5c] }), opts(trust)), /trusted/);
    // An intermediate that is not a CA cannot sign.
    const notCa = await issued(rsaKey(), root, { subject: 'not a ca', ca: false });
    const under = await issued(ecKey(), notCa, { subject: 'leaf' });
    await assert.rejects(verifyToken(await sign(under.key, {}, { x5c: [under.x5c, notCa.x5c] }), opts(trust)), /not a CA/);
    // An expired leaf.
    const old = await issued(ecKey(), root, { notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) });
    await assert.rejects(verifyToken(await sign(old.key, {}, { x5c: [old.x5c] }), opts(trust)), /validity/);
  });

  test('JWKS keys by their kid, by thumbprint and by libtrust id', async () => {
    const key = ecKey();
    const jwk = { ...(createPublicKey(key).export({ format: 'jwk' }) as object), kid: 'issuer-key-1', use: 'sig' };
    const trust = new TrustStore();
    for (const { kid, jwk: k } of parseJwks(JSON.stringify({ keys: [jwk, { kty: 'oct', k: 'c2VjcmV0' }] }))) await trust.addKey(k, kid);
    for (const kid of ['issuer-key-1', await jwkThumbprint(key), libtrustKeyId(key)]) await verifyToken(await sign(key, {}, { kid }), opts(trust));
    // A symmetric JWKS entry is ignored, so HS256 with its secret gets nowhere.
    await assert.rejects(verifyToken(await signHmac('secret', {}, { kid: 'issuer-key-1' }), opts(trust)), /algorithm not allowed/);
    // A JWKS entry with its private members trusts only the public half.
    const withPrivate = { ...(ecKey().export({ format: 'jwk' }) as object), kid: 'leaky' };
    const [entry] = parseJwks(JSON.stringify({ keys: [withPrivate] }));
    assert.equal((entry.jwk as Record<string, unknown>).d, undefined);
  });
});

describe('token issuer', () => {
  test('writes iss, sub, aud, exp, nbf, iat, jti, access, kid and x5c; refresh tokens are not access tokens', async () => {
    for (const key of [rsaKey(), ecKey()]) {
      const signer = await selfSigned(key);
      const issuer = new TokenIssuer({ privateKey: key, certificate: derOf(signer.cert) }, { issuer: 'berth', service: 'berth', expiresInSeconds: 300, refreshExpiresInSeconds: 3600 });
      const trust = new TrustStore();
      await trust.addCertificate(signer.cert);
      const { token, expiresIn } = await issuer.issue('alice', ACCESS);
      assert.equal(expiresIn, 300);
      const h = decodeProtectedHeader(token);
      assert.equal(h.alg, key.asymmetricKeyType === 'rsa' ? 'RS256' : 'ES256');
      assert.equal(h.typ, 'JWT');
      assert.equal(h.kid, libtrustKeyId(key));
      assert.deepEqual(h.x5c, [signer.x5c]);
      const p = decodeJwt(token);
      for (const k of ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'access']) assert.ok(k in p, k);
      assert.equal(Number(p.exp) - Number(p.iat), 300);
      await verifyToken(token, opts(trust));
      const refresh = await issuer.issueRefresh('alice');
      assert.equal(await issuer.verifyRefresh(refresh, trust), 'alice');
      await assert.rejects(verifyToken(refresh, opts(trust)), /audience/);
      await assert.rejects(issuer.verifyRefresh(token, trust), /audience/);
    }
  });
});
