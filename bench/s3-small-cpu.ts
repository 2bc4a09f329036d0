/**
 * CPU of this process per small S3 request (HEAD, a 200-byte PUT and GET, a conditional PUT's 412),
 * sent three ways: through the SDK's client (`client.send`, as the driver did), presigned by the SDK
 * (`getSignedUrl`) and sent on the driver's raw connection pool, and signed by the driver's
 * RequestSigner (SigV4 without the SDK's middleware) and sent on that pool (SmallRequests, what the
 * driver does now). A fresh RGW is started here; the ways alternate round after round. Run by hand
 * after a build:
 *
 *   node dist/bench/s3-small-cpu.js [ROUNDS, default 3] [REQUESTS per figure, default 300]
 */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { RawConnectionPool } from '../storage-drivers/s3/raw-connection';
import { RequestSigner, type SignedRequest } from '../storage-drivers/s3/request-signer';
import { SmallRequests } from '../storage-drivers/s3/small-requests';
import { startRgw } from '../test/helpers/rgw';
import { runMain } from './run-main';

type Way = 'sdk' | 'presigned' | 'signer';
const WAYS: Way[] = ['sdk', 'presigned', 'signer'];

/** Microseconds of this process's CPU (user + system) per call of `op`, over `n` calls in a row. */
async function cpuPer(n: number, op: (i: number) => Promise<unknown>): Promise<number> {
  await op(-1);
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await op(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

/** getSignedUrl in RequestSigner's place: the presigned URL carries the signature in its query. */
function presigningSigner(client: S3Client, Bucket: string): RequestSigner {
  const sign = async (method: string, Key: string, headers: Record<string, string>): Promise<SignedRequest> => {
    const command =
      method === 'HEAD'
        ? new HeadObjectCommand({ Bucket, Key })
        : method === 'GET'
          ? new GetObjectCommand({ Bucket, Key })
          : new PutObjectCommand({ Bucket, Key, IfNoneMatch: headers['if-none-match'] });
    // If-None-Match stays a header (the presigner would otherwise hoist nothing but x-amz-*).
    const url = await getSignedUrl(client, command, { expiresIn: 120, signableHeaders: new Set(Object.keys(headers)) });
    return { url: new URL(url), headers };
  };
  return { sign } as unknown as RequestSigner;
}

function expect(status: number | undefined, wanted: number, what: string): void {
  if (status !== wanted) throw new Error(`${what}: status ${status}, expected ${wanted}`);
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const n = Number(process.argv[3] ?? 300);
  const rgw = await startRgw();
  try {
    const Bucket = `small-cpu-${Date.now() % 100_000}`;
    await rgw.createBucket(Bucket);
    const small = Buffer.alloc(200, 'x');
    const results = new Map<string, number[]>();
    const record = (key: string, us: number) => {
      results.set(key, [...(results.get(key) ?? []), us]);
      console.log(`${key}: ${us.toFixed(0)} us`);
    };
    for (let round = 0; round < rounds; round++) {
      const order = WAYS.map((_, i) => WAYS[(i + round) % WAYS.length]);
      for (const way of order) {
        const client = new S3Client({
          region: rgw.region,
          endpoint: rgw.endpoint,
          forcePathStyle: true,
          credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        });
        const signer = way === 'presigned' ? presigningSigner(client, Bucket) : new RequestSigner(client, Bucket);
        const raw = new SmallRequests(signer, new RawConnectionPool(5_000), 30_000);
        const key = (i: number) => `small/${way}/${round}/${Math.max(i, 0)}`;
        type Op = (i: number) => Promise<void>;
        const ops: Record<string, Op> =
          way === 'sdk'
            ? {
                'PUT 200 B': async (i) => void (await client.send(new PutObjectCommand({ Bucket, Key: key(i), Body: small, ContentLength: small.length }))),
                'GET 200 B': async (i) => {
                  const got = await client.send(new GetObjectCommand({ Bucket, Key: key(i) }));
                  await got.Body!.transformToByteArray();
                },
                'HEAD present': async (i) => void (await client.send(new HeadObjectCommand({ Bucket, Key: key(i) }))),
                'HEAD absent': (i) => client.send(new HeadObjectCommand({ Bucket, Key: `absent/${i}` })).then(
                  () => Promise.reject(new Error('present')),
                  (err: { $metadata?: { httpStatusCode?: number } }) => expect(err.$metadata?.httpStatusCode, 404, 'HEAD absent'),
                ),
                'PUT If-None-Match 412': (i) => client.send(new PutObjectCommand({ Bucket, Key: key(i), Body: small, ContentLength: small.length, IfNoneMatch: '*' })).then(
                  () => Promise.reject(new Error('written')),
                  (err: { $metadata?: { httpStatusCode?: number } }) => expect(err.$metadata?.httpStatusCode, 412, 'conditional PUT'),
                ),
              }
            : {
                'PUT 200 B': async (i) => expect((await raw.send('PUT', key(i), {}, small, undefined))?.status, 200, 'PUT'),
                'GET 200 B': async (i) => {
                  const got = await raw.send('GET', key(i), {}, undefined, undefined);
                  expect(got?.status, 200, 'GET');
                  if (got?.body?.length !== small.length) throw new Error('GET: short body');
                },
                'HEAD present': async (i) => expect((await raw.send('HEAD', key(i), {}, undefined, undefined))?.status, 200, 'HEAD'),
                'HEAD absent': async (i) => expect((await raw.send('HEAD', `absent/${i}`, {}, undefined, undefined))?.status, 404, 'HEAD absent'),
                'PUT If-None-Match 412': async (i) => expect((await raw.send('PUT', key(i), { 'if-none-match': '*' }, small, undefined))?.status, 412, 'conditional PUT'),
              };
        for (const [what, op] of Object.entries(ops)) record(`${way} ${what}`, await cpuPer(n, op));
        client.destroy();
      }
    }
    console.log('\nmedian CPU per request (each round):');
    for (const [key, xs] of results) console.log(`${key}: ${[...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(0)} us (${xs.map((x) => x.toFixed(0)).join(' ')})`);
  } finally {
    await rgw.stop();
  }
}

runMain(main);
