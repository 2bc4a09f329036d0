import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startBerthProcess } from '../helpers/berth-process';

const SECRET_KEY = 'wJalrXUtnFEMI-not-a-real-secret-key';

/**
 * Just enough of S3 for readiness: `deny` answers as S3 does to an unknown access key (403, with the
 * error in the body except for HEAD); `hang` never answers; `ok` has an empty bucket.
 */
async function fakeS3(): Promise<{ server: Server; url: string; mode: (m: 'deny' | 'hang' | 'ok') => void }> {
  let mode: 'deny' | 'hang' | 'ok' = 'deny';
  const server = createServer((req, res) => {
    if (mode === 'hang') return;
    if (mode === 'deny') {
      res.writeHead(403, { 'Content-Type': 'application/xml' });
      res.end(
        req.method === 'HEAD'
          ? undefined
          : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message><RequestId>r1</RequestId></Error>',
      );
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/xml' });
    res.end('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, mode: (m) => (mode = m) };
}

function notReadyLines(logs: string): string[] {
  return logs.split('\n').filter((l) => l.includes('"msg":"not ready'));
}

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('readiness failures are logged with their cause (the S3 error name), once per cause, and the recovery too', { timeout: 60_000 }, async () => {
  const s3 = await fakeS3();
  const berth = await startBerthProcess({
    env: {
      REGISTRY_STORAGE: 's3',
      REGISTRY_STORAGE_S3_BUCKET: 'b',
      REGISTRY_STORAGE_S3_REGION: 'us-east-1',
      REGISTRY_STORAGE_S3_REGIONENDPOINT: s3.url,
      REGISTRY_STORAGE_S3_ACCESSKEY: 'AKIDEXAMPLE',
      REGISTRY_STORAGE_S3_SECRETKEY: SECRET_KEY,
      REGISTRY_HTTP_SECRET: 'shared-secret-0123456789abcdef',
    },
  });
  try {
    const first = await fetch(`${berth.url}/readyz`);
    assert.equal(first.status, 503);
    assert.deepEqual(await first.json(), { status: 'unready', storage: 's3', error: 'storage error' });
    await until(() => notReadyLines(berth.logs()).length === 1, 'the not-ready line');
    const line = JSON.parse(notReadyLines(berth.logs())[0]) as Record<string, unknown>;
    assert.equal(line.level, 'warn');
    // A HEAD's 403 has no body; the log names the error a listing gets.
    assert.match(String(line.msg), /^not ready: storage error: HTTP 403: InvalidAccessKeyId$/);
    assert.deepEqual(line.listing, { error: { name: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.', status: 403 } });

    // The same cause again: no new line while it keeps failing.
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${berth.url}/readyz`)).status, 503);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(notReadyLines(berth.logs()).length, 1, berth.logs());

    // A new cause is logged at once.
    s3.mode('hang');
    assert.equal((await fetch(`${berth.url}/readyz`)).status, 503);
    await until(() => notReadyLines(berth.logs()).length === 2, 'the timeout line');
    assert.match(notReadyLines(berth.logs())[1], /"msg":"not ready: storage: no answer within \d+ ms"/);

    s3.mode('ok');
    assert.equal((await fetch(`${berth.url}/readyz`)).status, 200);
    await until(() => berth.logs().includes('"msg":"ready again"'), 'the recovery line');
    const recovered = JSON.parse(berth.logs().split('\n').find((l) => l.includes('"msg":"ready again"'))!) as Record<string, unknown>;
    assert.equal(recovered.failedChecks, 5);
    assert.ok(!berth.logs().includes(SECRET_KEY), 'the secret key reached the log');
  } finally {
    await berth.stop();
    s3.server.closeAllConnections();
    s3.server.close();
  }
});
