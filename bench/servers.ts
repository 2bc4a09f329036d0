import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, createWriteStream } from 'node:fs';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { berthS3Env, type S3Endpoint } from '../test/s3/berth-on-s3';
import type { Cleanup } from './cleanup';
import type { RegistryKind, Target } from './types';

export const REFERENCE_BIN = '/usr/bin/docker-registry';
/** The CPU the servers run on; the load generator pins itself to the other one. */
export const SERVER_CPU = '1';
export const LOADGEN_CPU = '0';
const SECRET = 'berth-bench-shared-secret-0123456789';

/** Installs Debian's CNCF Distribution 2.8 when it is missing. */
export function ensureReference(log: (line: string) => void): void {
  if (existsSync(REFERENCE_BIN)) return;
  log(`# ${REFERENCE_BIN} missing: apt-get install -y docker-registry`);
  const asRoot = process.getuid?.() === 0;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]) => (asRoot ? spawnSync('apt-get', args, { stdio: 'inherit', env }) : spawnSync('sudo', ['apt-get', ...args], { stdio: 'inherit', env }));
  let r = run(['install', '-y', 'docker-registry']);
  if (r.status !== 0) {
    run(['update']);
    r = run(['install', '-y', 'docker-registry']);
  }
  if (r.status !== 0 || !existsSync(REFERENCE_BIN)) throw new Error('could not install docker-registry');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The environment without any REGISTRY_* variable of the caller, so only ours reach the servers. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
  return env;
}

export interface RunningServer {
  target: Target;
  dir: string;
  stop(): Promise<void>;
}

async function waitReady(base: string, child: ChildProcess, logFile: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const ok = await fetch(`${base}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const log = await readFile(logFile, 'utf8').catch(() => '');
  throw new Error(`server at ${base} did not become ready (exit ${child.exitCode}):\n${log.slice(-2000)}`);
}

/** A bucket of an S3 server and how to sign for it: the server stores there instead of a directory. */
export type S3Storage = S3Endpoint & { bucket: string };

/**
 * Distribution 2.8's s3 driver on `s3`. It uses path-style addressing whenever regionendpoint is set;
 * redirects are off so that pulls measure the registry, not S3 answering the client directly.
 */
function referenceS3Yaml(s3: S3Storage): string {
  return `  s3:
    regionendpoint: ${s3.endpoint}
    bucket: ${s3.bucket}
    accesskey: ${s3.accessKey}
    secretkey: ${s3.secretKey}
    region: ${s3.region}
    secure: false
    v4auth: true
  redirect:
    disable: true
`;
}

function referenceConfig(root: string, addr: string, extra: string, s3?: S3Storage): string {
  // Upstream's and Debian's shipped config both enable the in-memory blob descriptor cache; health checks
  // and auth are left out, as they are for Berth.
  const storage = s3 ? referenceS3Yaml(s3) : `  filesystem:\n    rootdirectory: ${root}\n`;
  return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
${storage}  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: ${addr}
  secret: ${SECRET}
${extra}`;
}

export interface ServerOptions {
  cpuProfDir: string | null;
  shared: boolean;
  /** A `notifications` section (YAML) given to both registries, or '' for none. */
  notifications: string;
  /** An upstream's base URL: the server is its pull-through mirror (`proxy.remoteurl`). */
  proxy?: string;
  /** The CPUs to pin the server to; SERVER_CPU unless said (the mirror group's upstream); null: not pinned. */
  cpu?: string | null;
  /** Berth's `http.workers` (1 unless said: one process, as the pinned figures compare). */
  workers?: number;
  /** Serve this storage directory (kept at stop) instead of a fresh one (removed at stop). */
  storageRoot?: string;
  /** Store in this S3 bucket (redirects off) instead of a fresh directory. */
  s3?: S3Storage;
  /**
   * Berth's shared cache (`redis.addr`), as replicas on S3 would run it. Distribution keeps its
   * default in-process descriptor cache: it has no coherent shared one to compare with.
   */
  redisAddr?: string;
  /** More of Berth's settings as REGISTRY_* variables (the insight group's modes, its metrics listener). */
  env?: Record<string, string>;
}

export async function startServer(kind: RegistryKind, repoRoot: string, cleanup: Cleanup, opts: ServerOptions): Promise<RunningServer> {
  const { cpuProfDir, shared, notifications, proxy, s3 } = opts;
  const dir = await mkdtemp(path.join(os.tmpdir(), `berth-bench-${kind}-`));
  cleanup.addDir(dir);
  const root = opts.storageRoot ?? path.join(dir, 'storage');
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const logFile = path.join(dir, 'server.log');
  let args: string[];
  const env = baseEnv();
  // Distribution 2.8's AWS SDK panics at start when AWS_CA_BUNDLE is set ("unable to load custom CA
  // bundle, HTTPClient's transport unsupported type"); the endpoint is plain HTTP, so no bundle applies.
  if (s3) delete env.AWS_CA_BUNDLE;
  // Unpinned, Distribution runs with Go's default GOMAXPROCS (the CPUs it may use), as it ships.
  if (opts.cpu === null) delete env.GOMAXPROCS;
  if (kind === 'reference') {
    const configFile = path.join(dir, 'config.yml');
    const proxyYaml = proxy ? `proxy:\n  remoteurl: ${proxy}\n` : '';
    await writeFile(configFile, referenceConfig(root, addr, notifications + proxyYaml, s3));
    args = [REFERENCE_BIN, 'serve', configFile];
  } else {
    Object.assign(env, {
      REGISTRY_HTTP_ADDR: addr,
      // On S3 the same choices as Distribution's (redirects off) and a secret: Berth as one of several
      // replicas on the bucket, so reads are not cached in the process (storage.cache.ttl 0).
      ...(s3 ? berthS3Env(s3, s3.bucket, { redirect: false }) : { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root }),
      REGISTRY_STORAGE_DELETE_ENABLED: 'true',
      // A single server is started as a newcomer would: no secret, storage owned by this process.
      // A replica: the secret every replica shares, and no reuse of reads another replica could change
      // (what the secret already implies; said outright so that the figures do not hang on a default).
      ...(shared ? { REGISTRY_HTTP_SECRET: SECRET, REGISTRY_STORAGE_CACHE_TTL: '0' } : {}),
      ...(opts.redisAddr ? { REGISTRY_REDIS_ADDR: opts.redisAddr } : {}),
      REGISTRY_HTTP_WORKERS: String(opts.workers ?? 1),
      REGISTRY_LOG_ACCESSLOG_DISABLED: 'true',
      REGISTRY_LOG_LEVEL: 'warn',
      ...(proxy ? { REGISTRY_PROXY_REMOTEURL: proxy, REGISTRY_MIRROR_SPOOLDIRECTORY: path.join(dir, 'spool') } : {}),
      ...opts.env,
    });
    const prof = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [];
    // Everything else comes from the environment; only a list (the endpoints) needs a file.
    const config = notifications ? ['--config', path.join(dir, 'config.yml')] : [];
    if (notifications) await writeFile(config[1], notifications);
    args = [process.execPath, ...prof, path.join(repoRoot, 'dist/src/main.js'), 'serve', ...config];
  }
  const log = createWriteStream(logFile);
  // taskset execs the server, so the child's pid is the server's own (for /proc readings).
  const cpu = opts.cpu === undefined ? SERVER_CPU : opts.cpu;
  const command = cpu === null ? args : ['taskset', '-c', cpu, ...args];
  const child = spawn(command[0], command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.addChild(child);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const base = `http://${addr}`;
  await waitReady(base, child, logFile);
  const target: Target = { kind, base, host: addr, port, pid: child.pid! };
  return {
    target,
    dir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      cleanup.forgetChild(child);
      log.end();
      cleanup.removeDir(dir);
    },
  };
}

/** Pins this process (every thread) to the load generator's CPU, or to the CPUs given. */
export function pinSelf(cpus = LOADGEN_CPU): boolean {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
  return r.status === 0;
}

/** Every CPU of the machine, as a taskset list. */
export const ALL_CPUS = `0-${os.cpus().length - 1}`;
