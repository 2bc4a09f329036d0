import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cephConfig } from './ceph-config';
import { type Daemon, removeTree, spawnDaemon } from './daemon';
import { run } from './exec';
import { findTool, requireTools } from './tools';
import { freePort } from './ports';

export interface Rgw {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** How long the start took, for reports. */
  startMs: number;
  /** Creates a bucket (the name must be 3-63 lowercase characters). */
  createBucket(name: string): Promise<void>;
  /** The radosgw daemon alone, for outage tests; the monitor and the OSD keep running. */
  gateway: Gateway;
  stop(): Promise<void>;
}

export interface Gateway {
  /** SIGKILL; resolves once it has exited, so the port refuses connections. */
  kill(): Promise<void>;
  /** Starts it again on the same port; resolves once it answers HTTP. */
  restart(): Promise<void>;
  /** SIGSTOP: connections are accepted by the kernel but never answered, like a black-holed backend. */
  freeze(): void;
  /** SIGCONT after freeze. */
  thaw(): void;
}

const TOOLS = ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph', 'ceph-authtool', 'monmaptool', 'radosgw-admin'];
const START_TIMEOUT_MS = 60_000;

/** node:test's `skip` value for tests that need RGW: a reason here, an error in CI (see requireTools). */
export function rgwSkipReason(): string | false {
  return requireTools(TOOLS);
}


async function logTails(dir: string, daemons: [string, Daemon][]): Promise<string> {
  const out: string[] = daemons.map(([name, d]) => `--- ${name} output\n${d.logs().slice(-3000)}`);
  for (const file of await readdir(path.join(dir, 'log')).catch(() => [] as string[])) {
    const text = await readFile(path.join(dir, 'log', file), 'utf8').catch(() => '');
    out.push(`--- ${file}\n${text.slice(-3000)}`);
  }
  return out.join('\n');
}

async function waitForHttp(url: string, rgw: Daemon, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (rgw.proc.exitCode !== null || rgw.proc.signalCode !== null) throw new Error('radosgw exited');
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`radosgw did not answer within ${START_TIMEOUT_MS} ms`);
}

/**
 * Starts a throw-away Ceph cluster (monitor, memstore OSD, radosgw) below one temporary directory
 * and creates an S3 user with a fixed key. It answers in about 12 s; if it has not within 60 s the
 * start fails with the daemons' logs. stop() ends every daemon, waits for each to exit, and removes
 * the directory. memstore keeps objects in RAM, so tests delete what they write.
 */
export async function startRgw(): Promise<Rgw> {
  for (const tool of TOOLS) if (!findTool(tool)) throw new Error(`${tool} is not installed`);
  // The ports are chosen free, but the daemons bind them seconds later: meanwhile another process
  // (an outgoing connection's ephemeral port, a parallel suite) can take one. Start again on others.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRgwOnce();
    } catch (err) {
      if (attempt === 3 || !/Address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startRgwOnce(): Promise<Rgw> {
  const started = Date.now();
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-rgw-'));
  const daemons: [string, Daemon][] = [];
  const stop = async () => {
    // radosgw and the OSD first: they talk to the monitor while shutting down. The data is
    // throw-away, so a daemon slow to exit (the OSD saving memstore to disk) is killed after 2 s.
    for (const [, d] of [...daemons].reverse()) await d.stop(2_000);
    daemons.length = 0;
    await removeTree(dir);
  };
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    const timeoutMs = () => Math.max(1_000, deadline - Date.now());
    const layout = { dir, fsid: randomUUID(), monPort: await freePort(), rgwPort: await freePort() };
    for (const sub of ['mon', 'osd', 'run', 'log', 'rgw']) await mkdir(path.join(dir, sub));
    const conf = path.join(dir, 'ceph.conf');
    await writeFile(conf, cephConfig(layout));
    const c = ['-c', conf];
    const monmap = path.join(dir, 'monmap');
    await run('monmaptool', ['--create', '--addv', 'a', `[v1:127.0.0.1:${layout.monPort}]`, '--fsid', layout.fsid, monmap], { timeoutMs: timeoutMs() });
    await run('ceph-authtool', ['--create-keyring', path.join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], { timeoutMs: timeoutMs() });
    await run('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', path.join(dir, 'keyring')], { timeoutMs: timeoutMs() });
    daemons.push(['ceph-mon', spawnDaemon('ceph-mon', [...c, '-i', 'a', '-f'])]);
    // A monitor that has just started may still answer with a zero fsid ("problem getting command
    // descriptions"): retry the CLI until the deadline. `osd create <uuid>` is idempotent, so a retry
    // after a half-seen success cannot create a second OSD.
    const ceph = async (args: string[]): Promise<string> => {
      for (;;) {
        try {
          return (await run('ceph', [...c, '--connect-timeout', '15', ...args], { timeoutMs: timeoutMs() })).stdout.trim();
        } catch (err) {
          if (Date.now() + 1_000 >= deadline) throw err;
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    };
    const osdUuid = randomUUID();
    const osdId = await ceph(['osd', 'create', osdUuid]);
    await ceph(['osd', 'crush', 'add', `osd.${osdId}`, '1.0', 'root=default', 'host=localhost']);
    await run('ceph-osd', [...c, '-i', osdId, '--mkfs', '--osd-uuid', osdUuid], { timeoutMs: timeoutMs() });
    daemons.push(['ceph-osd', spawnDaemon('ceph-osd', [...c, '-i', osdId, '-f'])]);
    const rgwArgs = [...c, '-n', 'client.rgw', '-f'];
    const rgwAt = daemons.push(['radosgw', spawnDaemon('radosgw', rgwArgs)]) - 1;
    const rgw = () => daemons[rgwAt][1];
    const endpoint = `http://127.0.0.1:${layout.rgwPort}`;
    await waitForHttp(endpoint, rgw(), deadline);
    const gateway: Gateway = {
      kill: () => rgw().stop(0),
      restart: async () => {
        await rgw().stop(0);
        daemons[rgwAt] = ['radosgw', spawnDaemon('radosgw', rgwArgs)];
        await waitForHttp(endpoint, rgw(), Date.now() + START_TIMEOUT_MS);
      },
      freeze: () => void rgw().proc.kill('SIGSTOP'),
      thaw: () => void rgw().proc.kill('SIGCONT'),
    };
    const accessKey = 'BERTHTESTACCESSKEY00';
    const secretKey = 'berth-test-secret-key-0000000000000000000';
    await run('radosgw-admin', [...c, 'user', 'create', '--uid', 'berth', '--display-name', 'berth', '--access-key', accessKey, '--secret', secretKey], { timeoutMs: timeoutMs() });
    const region = 'us-east-1';
    const admin = new S3Client({
      endpoint,
      region,
      forcePathStyle: true,
      credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return {
      endpoint,
      accessKey,
      secretKey,
      region,
      startMs: Date.now() - started,
      createBucket: async (name) => {
        await admin.send(new CreateBucketCommand({ Bucket: name }));
      },
      gateway,
      stop: async () => {
        admin.destroy();
        // A frozen radosgw would not act on SIGTERM and would hold its stop for the whole grace.
        gateway.thaw();
        await stop();
      },
    };
  } catch (err) {
    const logs = await logTails(dir, daemons);
    await stop();
    throw new Error(`RGW did not start: ${(err as Error).message}\n${logs}`, { cause: err });
  }
}

let shared: { rgw: Promise<Rgw>; users: number } | undefined;

/**
 * One RGW shared by the suites of a test file: the first acquire starts it, the last release stops
 * it. Each user should work in a bucket of its own.
 */
export async function acquireRgw(): Promise<Rgw> {
  shared ??= { rgw: startRgw(), users: 0 };
  shared.users++;
  try {
    return await shared.rgw;
  } catch (err) {
    shared = undefined;
    throw err;
  }
}

export async function releaseRgw(): Promise<void> {
  if (!shared || --shared.users > 0) return;
  const { rgw } = shared;
  shared = undefined;
  await (await rgw).stop();
}
