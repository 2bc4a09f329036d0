{{/*
The helm test client (templates/tests/push-pull.yaml), for `node -e`: pushes a one-layer image to
BERTH_URL and pulls it back, logging in as BERTH_TEST_USERNAME when the registry asks (Basic, or the
Docker token flow), presenting the pair in BERTH_TEST_CLIENT_CERT/KEY under mutual TLS. Exits non-zero
on any refusal or difference. The registry is reached with node:http(s), not fetch, which cannot
present a client certificate.
*/}}
{{- define "berth.testScript" -}}
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const base = new URL(process.env.BERTH_URL);
const repo = process.env.BERTH_TEST_REPOSITORY;
const user = process.env.BERTH_TEST_USERNAME;
const basic = user === undefined ? undefined : 'Basic ' + Buffer.from(user + ':' + process.env.BERTH_TEST_PASSWORD).toString('base64');
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const certFile = process.env.BERTH_TEST_CLIENT_CERT;
const pair = certFile ? { cert: fs.readFileSync(certFile), key: fs.readFileSync(process.env.BERTH_TEST_CLIENT_KEY) } : {};
let auth;
const sha = (b) => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');
const fail = (message) => { throw new Error(message); };
// Location headers and the token realm may name the registry's external address: go through the Service.
const here = (u) => { const x = new URL(u, base); return new URL(x.pathname + x.search, base); };
async function login(challenge) {
  const m = /^(\w+) (.*)$/.exec(challenge) || fail('401 without a challenge');
  if (!basic) fail('the registry asks for credentials: set tests.credentials');
  if (m[1].toLowerCase() === 'basic') return (auth = basic);
  const params = new Map([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((p) => [p[1], p[2]]));
  const url = here(params.get('realm') || fail('no realm in ' + challenge));
  if (params.has('service')) url.searchParams.set('service', params.get('service'));
  url.searchParams.set('scope', 'repository:' + repo + ':pull,push,delete');
  const res = await send(url, 'GET', { authorization: basic });
  if (res.status !== 200) fail('token request: ' + res.status + ' ' + res.body);
  const body = JSON.parse(res.body);
  auth = 'Bearer ' + (body.token || body.access_token);
}
/** One request to the registry (redirects not followed): { status, headers, body }. */
function send(url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, { method, headers, ...(client === https ? pair : {}) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
async function call(method, path, headers = {}, body) {
  for (let attempt = 0; ; attempt++) {
    const res = await send(here(path), method, auth ? { ...headers, authorization: auth } : headers, body);
    if (res.status !== 401 || attempt > 0) return res;
    await login(res.headers['www-authenticate'] || '');
  }
}
function expect(res, status, what) {
  if (res.status !== status) fail(what + ': ' + res.status + ' ' + res.body);
  return res;
}
async function push(blob) {
  const digest = sha(blob);
  const started = expect(await call('POST', '/v2/' + repo + '/blobs/uploads/'), 202, 'start an upload');
  const url = here(started.headers.location);
  url.searchParams.set('digest', digest);
  expect(await call('PUT', url.pathname + url.search, { 'content-type': 'application/octet-stream' }, blob), 201, 'finish the upload');
  return { digest, size: blob.length };
}
async function pull(digest) {
  let res = await call('GET', '/v2/' + repo + '/blobs/' + digest);
  if (res.status >= 300 && res.status < 400) {
    // A redirect goes to storage (S3), which must see neither the registry's credentials nor its client pair.
    const s3 = await fetch(res.headers.location);
    res = { status: s3.status, body: Buffer.from(await s3.arrayBuffer()) };
  }
  return expect(res, 200, 'pull ' + digest).body;
}
(async () => {
  expect(await call('GET', '/v2/'), 200, 'GET /v2/');
  const layer = crypto.randomBytes(4096);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
  const layers = [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await push(layer)) }];
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...(await push(config)) }, layers }));
  const tag = 'helm-test-' + Date.now();
  expect(await call('PUT', '/v2/' + repo + '/manifests/' + tag, { 'content-type': MANIFEST }, manifest), 201, 'push the manifest');
  const got = expect(await call('GET', '/v2/' + repo + '/manifests/' + tag, { accept: MANIFEST }), 200, 'pull the manifest');
  if (sha(got.body) !== sha(manifest)) fail('the pulled manifest differs from the pushed one');
  if (!(await pull(layers[0].digest)).equals(layer)) fail('the pulled layer differs from the pushed one');
  // Leave nothing behind where deletes are enabled (405 where they are not).
  const removed = await call('DELETE', '/v2/' + repo + '/manifests/' + sha(manifest));
  console.log('pushed and pulled ' + repo + ':' + tag + ' through ' + base.origin + (removed.status === 202 ? ', then deleted it' : ''));
})().catch((e) => {
  console.error('helm test failed: ' + e.message);
  process.exit(1);
});
{{- end }}
