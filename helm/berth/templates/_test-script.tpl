{{/*
The helm test client (templates/tests/push-pull.yaml), for `node -e`: pushes a one-layer image to
BERTH_URL and pulls it back, logging in as BERTH_TEST_USERNAME when the registry asks (Basic, or the
Docker token flow). Exits non-zero on any refusal or difference.
*/}}
{{- define "berth.testScript" -}}
const crypto = require('node:crypto');
const base = new URL(process.env.BERTH_URL);
const repo = process.env.BERTH_TEST_REPOSITORY;
const user = process.env.BERTH_TEST_USERNAME;
const basic = user === undefined ? undefined : 'Basic ' + Buffer.from(user + ':' + process.env.BERTH_TEST_PASSWORD).toString('base64');
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
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
  const res = await fetch(url, { headers: { authorization: basic } });
  if (!res.ok) fail('token request: ' + res.status + ' ' + (await res.text()));
  const body = await res.json();
  auth = 'Bearer ' + (body.token || body.access_token);
}
async function call(method, path, init = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = auth ? { ...init.headers, authorization: auth } : init.headers;
    const res = await fetch(here(path), { ...init, method, headers });
    if (res.status !== 401 || attempt > 0) return res;
    await login(res.headers.get('www-authenticate') || '');
  }
}
async function expect(res, status, what) {
  if (res.status !== status) fail(what + ': ' + res.status + ' ' + (await res.text()));
  return res;
}
async function push(blob) {
  const digest = sha(blob);
  const started = await expect(await call('POST', '/v2/' + repo + '/blobs/uploads/'), 202, 'start an upload');
  const url = here(started.headers.get('location'));
  url.searchParams.set('digest', digest);
  const done = await call('PUT', url.pathname + url.search, { body: blob, headers: { 'content-type': 'application/octet-stream' } });
  await expect(done, 201, 'finish the upload');
  return { digest, size: blob.length };
}
async function pull(digest) {
  // A redirect goes to storage (S3), which must not see the registry's credentials.
  let res = await call('GET', '/v2/' + repo + '/blobs/' + digest, { redirect: 'manual' });
  if (res.status >= 300 && res.status < 400) res = await fetch(res.headers.get('location'));
  await expect(res, 200, 'pull ' + digest);
  return Buffer.from(await res.arrayBuffer());
}
(async () => {
  await expect(await call('GET', '/v2/'), 200, 'GET /v2/');
  const layer = crypto.randomBytes(4096);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
  const layers = [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await push(layer)) }];
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...(await push(config)) }, layers }));
  const tag = 'helm-test-' + Date.now();
  const put = await call('PUT', '/v2/' + repo + '/manifests/' + tag, { body: manifest, headers: { 'content-type': MANIFEST } });
  await expect(put, 201, 'push the manifest');
  const got = await expect(await call('GET', '/v2/' + repo + '/manifests/' + tag, { headers: { accept: MANIFEST } }), 200, 'pull the manifest');
  if (sha(Buffer.from(await got.arrayBuffer())) !== sha(manifest)) fail('the pulled manifest differs from the pushed one');
  if (!(await pull(layers[0].digest)).equals(layer)) fail('the pulled layer differs from the pushed one');
  // Leave nothing behind where deletes are enabled (405 where they are not).
  const removed = await call('DELETE', '/v2/' + repo + '/manifests/' + sha(manifest));
  console.log('pushed and pulled ' + repo + ':' + tag + ' through ' + base.origin + (removed.status === 202 ? ', then deleted it' : ''));
})().catch((e) => {
  console.error('helm test failed: ' + e.message);
  process.exit(1);
});
{{- end }}
