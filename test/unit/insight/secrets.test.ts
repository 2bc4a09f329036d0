import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { findConfigSecrets } from '../../../src/insight/config-secrets';
import { fingerprint } from '../../../src/insight/secret-finding';
import { GZIP, layerBlob, scanBlob, type TestEntry } from './layers';

// Built at run time so that no token-shaped literal sits in the repository.
const alnum = (n: number, seed: string) => (seed.repeat(n).replace(/[^A-Za-z0-9]/g, 'Q') + 'x'.repeat(n)).slice(0, n);
const SECRETS = {
  openssh: openSshKey(),
  pem: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  awsId: 'AKIA' + 'IOSFODNN7EXAMPLE',
  awsSecret: 'wJalrXUtnFEMI/K7MDENG/' + 'bPxRfiCYEXAMPLEKEY',
  github: 'ghp_' + alnum(36, 'Gh1'),
  gitlab: 'glpat-' + alnum(20, 'Gl2'),
  npm: 'npm_' + alnum(36, 'Np3'),
  pypi: 'pypi-AgEIcHlwaS5vcmc' + alnum(60, 'Py4'),
  slack: 'xoxb-' + '1234567890-' + alnum(24, 'Sl5'),
  jwt: ['eyJhbGciOiJIUzI1NiJ9', 'eyJzdWIiOiJiZXJ0aCJ9', alnum(43, 'Jw6')].join('.'),
};

function openSshKey(): string {
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), randomBytes(300)]).toString('base64');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.match(/.{1,70}/g)!.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

const gcpJson = JSON.stringify({
  type: 'service_account',
  project_id: 'berth-test',
  private_key_id: 'ab12'.repeat(10),
  private_key: 'see private-key',
  client_email: 'berth@berth-test.iam.gserviceaccount.com',
});

async function findings(entries: TestEntry[], secretHeadBytes?: number) {
  const scan = await scanBlob(await layerBlob(entries), GZIP, secretHeadBytes);
  return scan.findings.map((f) => `${f.path} ${f.rule}`).sort();
}

test('every rule finds its secret, once per secret, with a redacted fingerprint', async () => {
  const entries: TestEntry[] = [
    { name: 'root/.ssh/id_ed25519', content: SECRETS.openssh },
    { name: 'etc/ssl/private/server.key', content: SECRETS.pem },
    { name: 'root/.aws/credentials', content: `[default]\naws_access_key_id = ${SECRETS.awsId}\naws_secret_access_key = ${SECRETS.awsSecret}\n` },
    { name: 'app/gcp.json', content: gcpJson },
    { name: 'app/config.yaml', content: `github: ${SECRETS.github}\ngitlab: ${SECRETS.gitlab}\nslack: ${SECRETS.slack}\nagain: ${SECRETS.github}\n` },
    { name: 'app/publish.sh', content: `NPM=${SECRETS.npm} TWINE=${SECRETS.pypi}\n` },
    { name: 'app/session', content: `Authorization: Bearer ${SECRETS.jwt}\n` },
  ];
  const scan = await scanBlob(await layerBlob(entries), GZIP);
  assert.deepEqual(scan.findings.map((f) => `${f.path} ${f.rule}`).sort(), [
    'app/config.yaml github-token',
    'app/config.yaml gitlab-token',
    'app/config.yaml slack-token',
    'app/gcp.json gcp-service-account',
    'app/publish.sh npm-token',
    'app/publish.sh pypi-token',
    'app/session jwt',
    'etc/ssl/private/server.key private-key',
    'root/.aws/credentials aws-access-key-id',
    'root/.aws/credentials aws-secret-access-key',
    'root/.ssh/id_ed25519 private-key',
  ]);
  assert.equal(scan.findingCount, 11);
  const github = scan.findings.find((f) => f.rule === 'github-token')!;
  assert.equal(github.fingerprint, fingerprint('github-token', SECRETS.github));
  assert.match(github.fingerprint, /^github-token:ghp_…:[0-9a-f]{16}$/);
  const reported = JSON.stringify(scan.findings);
  for (const [name, secret] of Object.entries(SECRETS)) {
    const sample = name === 'openssh' || name === 'pem' ? secret.split('\n')[1].slice(0, 24) : secret.slice(5);
    assert.ok(!reported.includes(sample), `${name} appears in the findings`);
  }
});

test('credential files: found with a credential, not with a reference to one or none', async () => {
  assert.deepEqual(
    await findings([
      { name: 'app/.env', content: '# local\nDATABASE_URL=postgres://u:p@db/app\n' },
      { name: 'app/.env.production', content: 'export API_KEY="k3y"\n' },
      { name: 'app/.env.example', content: 'API_KEY=changeme\n' },
      { name: 'srv/.env', content: 'API_KEY=${API_KEY}\n' },
      { name: 'root/.npmrc', content: `//registry.npmjs.org/:_authToken=abc123def456\n` },
      { name: 'home/ci/.npmrc', content: '//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n' },
      { name: 'root/.pypirc', content: '[pypi]\nusername = __token__\npassword = hunter2hunter2\n' },
      { name: 'home/u/.pypirc', content: '[pypi]\nusername = me\n' },
      { name: 'root/.docker/config.json', content: JSON.stringify({ auths: { 'ghcr.io': { auth: 'dXNlcjpwYXNz' } } }) },
      { name: 'home/u/.docker/config.json', content: JSON.stringify({ credsStore: 'desktop', auths: { 'ghcr.io': {} } }) },
      { name: 'root/.git-credentials', content: 'https://me:s3cr3t-pass@github.com\n' },
      { name: 'home/u/.git-credentials', content: 'https://github.com\n' },
    ]),
    [
      'app/.env dotenv',
      'app/.env.production dotenv',
      'root/.docker/config.json docker-config-credentials',
      'root/.git-credentials git-credentials',
      'root/.npmrc npmrc-credentials',
      'root/.pypirc pypirc-credentials',
    ],
  );
});

test('.git directories: once each, whether listed themselves or only through their files', async () => {
  assert.deepEqual(
    await findings([
      { name: 'src/app/.git/', type: 'directory' },
      { name: 'src/app/.git/config', content: '[core]\n' },
      { name: 'src/app/.git/objects/ab/cdef', content: 'x' },
      { name: 'src/lib/.git/HEAD', content: 'ref: refs/heads/main\n' },
      { name: 'src/wt/.git', content: 'gitdir: ../app/.git/worktrees/wt\n' },
      { name: 'src/.gitignore', content: 'node_modules\n' },
    ]),
    ['src/app/.git git-directory', 'src/lib/.git git-directory'],
  );
});

test('an AWS secret key is found under its name in any case, as the rule reads it', async () => {
  const spellings = ['aws_secret_access_key', 'AWS_SECRET_ACCESS_KEY', 'Aws_Secret_Access_Key', 'awsSecretAccessKey'];
  const entries = spellings.map((name, i) => ({ name: `etc/app-${i}.conf`, content: `${name} = ${SECRETS.awsSecret}\n` }));
  assert.deepEqual(await findings(entries), spellings.map((_, i) => `etc/app-${i}.conf aws-secret-access-key`));
});

test('only the first N KiB of a text file are searched, and binaries not at all', async () => {
  const late = 'x'.repeat(8 * 1024) + `\n${SECRETS.github}\n`;
  const binary = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from(SECRETS.github)]);
  const entries = [
    { name: 'late.txt', content: late },
    { name: 'bin/tool', content: binary },
  ];
  assert.deepEqual(await findings(entries, 4 * 1024), []);
  assert.deepEqual(await findings(entries, 16 * 1024), ['late.txt github-token']);
  assert.deepEqual(await findings(entries, 0), []);
});

test("secrets in the image config's Env and history, as literal values only", () => {
  const found = findConfigSecrets({
    config: { Env: ['PATH=/usr/bin', 'DB_PASSWORD=hunter2', 'API_TOKEN=', 'GITHUB_TOKEN=$FROM_CI', `NOTE=${SECRETS.slack}`] },
    history: [
      { created_by: '/bin/sh -c #(nop) ADD file:abc in / ' },
      { created_by: 'ENV AWS_SECRET_ACCESS_KEY=' + SECRETS.awsSecret, empty_layer: true },
      { created_by: `RUN |1 NPM_TOKEN=${SECRETS.npm} /bin/sh -c npm ci # buildkit` },
      { created_by: 'ARG APP_SECRET' },
    ],
  });
  assert.deepEqual(found.map((f) => `${f.path} ${f.rule}`), [
    'config.Env[1] credential-variable',
    'config.Env[4] slack-token',
    'config.history[1].created_by aws-secret-access-key',
    'config.history[2].created_by npm-token',
  ]);
  assert.equal(found[0].fingerprint, fingerprint('credential-variable', 'hunter2'));
  assert.match(found[0].fingerprint, /^credential-variable:\*\*\*\*…:/, 'a short secret shows none of its characters');
  assert.ok(!JSON.stringify(found).includes('hunter2'));
});
