/**
 * CPU the AWS SDK spends per S3 request, in this process, for the client options that decide
 * checksums: Berth's (`WHEN_REQUIRED`) against the SDK's default (`WHEN_SUPPORTED`: a CRC32 of every
 * PutObject/UploadPart body, and response checksums validated). A fresh RGW is started here; the
 * options alternate round after round. Run by hand after a build:
 *
 *   node dist/bench/s3-sdk-cpu.js [ROUNDS, default 3]
 */
import { CreateMultipartUploadCommand, HeadObjectCommand, PutObjectCommand, S3Client, UploadPartCommand, AbortMultipartUploadCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { startRgw, type Rgw } from '../test/helpers/rgw';
import { runMain } from './run-main';

const MiB = 1024 * 1024;
type Setting = 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';

function client(rgw: Rgw, setting: Setting): S3Client {
  return new S3Client({
    region: rgw.region,
    endpoint: rgw.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
    requestChecksumCalculation: setting,
    responseChecksumValidation: setting,
  });
}

/** Microseconds of this process's CPU (user + system) per call of `op`, over `n` calls in a row. */
async function cpuPer(n: number, op: (i: number) => Promise<unknown>): Promise<number> {
  await op(-1);
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await op(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const rgw = await startRgw();
  try {
    const Bucket = `sdk-cpu-${Date.now() % 100_000}`;
    await rgw.createBucket(Bucket);
    const small = Buffer.alloc(200, 'x');
    const part = Buffer.alloc(10 * MiB, 'y');
    const results = new Map<string, number[]>();
    const record = (key: string, us: number) => {
      results.set(key, [...(results.get(key) ?? []), us]);
      console.log(`${key}: ${us.toFixed(0)} us`);
    };
    for (let round = 0; round < rounds; round++)
      for (const setting of (round % 2 === 0 ? ['WHEN_REQUIRED', 'WHEN_SUPPORTED'] : ['WHEN_SUPPORTED', 'WHEN_REQUIRED']) as Setting[]) {
        const s3 = client(rgw, setting);
        record(`${setting} PutObject 200 B`, await cpuPer(200, (i) => s3.send(new PutObjectCommand({ Bucket, Key: `small/${setting}/${i}`, Body: small, ContentLength: small.length }))));
        record(`${setting} GetObject 200 B`, await cpuPer(200, async (i) => {
          const got = await s3.send(new GetObjectCommand({ Bucket, Key: `small/${setting}/${Math.max(i, 0)}` }));
          await got.Body!.transformToByteArray();
        }));
        record(`${setting} HeadObject absent`, await cpuPer(200, (i) => s3.send(new HeadObjectCommand({ Bucket, Key: `absent/${i}` })).catch(() => undefined)));
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: `big/${setting}` }));
        record(`${setting} UploadPart 10 MiB`, await cpuPer(8, (i) => s3.send(new UploadPartCommand({ Bucket, Key: `big/${setting}`, UploadId, PartNumber: i + 2, Body: part, ContentLength: part.length }))));
        await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: `big/${setting}`, UploadId }));
        s3.destroy();
      }
    console.log('\nmedian CPU per request (each round):');
    for (const [key, xs] of results) console.log(`${key}: ${[...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(0)} us (${xs.map((x) => x.toFixed(0)).join(' ')})`);
  } finally {
    await rgw.stop();
  }
}

runMain(main);
