import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** CNCF Distribution 2.8, as Debian's docker-registry package installs it. */
export const DISTRIBUTION_BINARY = '/usr/bin/docker-registry';

export interface DistributionOptions {
  /** storage.filesystem.rootdirectory */
  rootDirectory: string;
  /** How long to wait for `GET /v2/` to answer 200 (default 15 s). */
  startTimeoutMs?: number;
  /** More top-level YAML for its config.yml (e.g. a `notifications:` section). */
  extraYaml?: string;
  /** Statuses of `GET /v2/` that mean it is up (default 200; 401 behind `auth:`). */
  readyStatuses?: number[];
}

export interface DistributionProcess {
  /** http://127.0.0.1:PORT */
  url: string;
  proc: ChildProcess;
  /** SIGTERM, SIGKILL after 10 s, resolves once the process has exited. */
  stop(): Promise<void>;
  /** Everything the process wrote so far. */
  logs(): string;
}

/**
 * Why tests needing Distribution cannot run here, or undefined when they can.
 * In CI (process.env.CI set) a missing binary is an error, not a skip: CI must install it.
 */
export async function distributionSkipReason(): Promise<string | undefined> {
  try {
    await access(DISTRIBUTION_BINARY, fsConstants.X_OK);
    return undefined;
  } catch {
    const reason = `${DISTRIBUTION_BINARY} (CNCF Distribution 2.8, Debian package docker-registry) is not installed`;
    if (process.env.CI) throw new Error(`${reason}; CI must install it`);
    return reason;
  }
}

/** A port that was free a moment ago: bind 0, read the port, release it. */
async function pickPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

// Distribution reads REGISTRY_* overrides from the environment: keep the parent's out.
function cleanEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() };
}

function configYaml(rootDirectory: string, port: number, extraYaml = ''): string {
  // JSON strings are valid YAML scalars, so paths need no further quoting.
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(rootDirectory)}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    // A fixed secret only silences the start-up warning: tests run a single instance.
    '  secret: berth-interop-tests',
    extraYaml,
  ].join('\n');
}

async function waitForV2(url: string, deadline: number, exited: () => boolean, ready: number[]): Promise<boolean> {
  while (Date.now() < deadline) {
    if (exited()) return false;
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (ready.includes(res.status)) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * Starts Distribution serving `rootDirectory` on a loopback port and resolves once `GET /v2/`
 * answers (200, or one of `readyStatuses`). Retries with another port if the chosen one was taken in the meantime.
 */
export async function startDistribution(opts: DistributionOptions): Promise<DistributionProcess> {
  const skip = await distributionSkipReason();
  if (skip) throw new Error(skip);
  const configDir = await mkdtemp(path.join(os.tmpdir(), 'berth-distribution-config-'));
  const timeoutMs = opts.startTimeoutMs ?? 15000;
  const failures: string[] = [];
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await pickPort();
      const configFile = path.join(configDir, 'config.yml');
      await writeFile(configFile, configYaml(opts.rootDirectory, port, opts.extraYaml));
      const proc = spawn(DISTRIBUTION_BINARY, ['serve', configFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: cleanEnv(),
      });
      let output = '';
      proc.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
      proc.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
      let hasExited = false;
      const exited = new Promise<void>((resolve) => {
        proc.once('exit', () => {
          hasExited = true;
          resolve();
        });
        proc.once('error', (e) => {
          output += `spawn error: ${e.message}\n`;
          hasExited = true;
          resolve();
        });
      });
      const url = `http://127.0.0.1:${port}`;
      const stop = async () => {
        if (!hasExited) {
          proc.kill('SIGTERM');
          const killer = setTimeout(() => proc.kill('SIGKILL'), 10000);
          await exited;
          clearTimeout(killer);
        }
      };
      // A process that lost the port exits at once; until then a stranger on that port could have
      // answered, so the 200 only counts if Distribution is still running a moment later.
      const answered = await waitForV2(url, Date.now() + timeoutMs, () => hasExited, opts.readyStatuses ?? [200]);
      if (answered) await new Promise((r) => setTimeout(r, 200));
      if (answered && !hasExited) {
        return {
          url,
          proc,
          logs: () => output,
          stop: async () => {
            await stop();
            await rm(configDir, { recursive: true, force: true });
          },
        };
      }
      await stop();
      failures.push(`port ${port}: ${output.trim() || 'no output'}`);
      // Only a lost race for the port is worth another try.
      if (!/address already in use/i.test(output)) break;
    }
  } catch (e) {
    await rm(configDir, { recursive: true, force: true });
    throw e;
  }
  await rm(configDir, { recursive: true, force: true });
  throw new Error(`Distribution did not answer GET /v2/ with 200:\n${failures.join('\n')}`);
}

/**
 * `docker-registry garbage-collect` on a stopped registry's directory: deletes blobs no manifest
 * references (and, with deleteUntagged, manifests no tag points to). Resolves with its output.
 */
export async function distributionGarbageCollect(rootDirectory: string, opts: { deleteUntagged?: boolean } = {}): Promise<string> {
  const skip = await distributionSkipReason();
  if (skip) throw new Error(skip);
  const configDir = await mkdtemp(path.join(os.tmpdir(), 'berth-distribution-gc-'));
  try {
    const configFile = path.join(configDir, 'config.yml');
    await writeFile(configFile, configYaml(rootDirectory, 5000));
    const args = ['garbage-collect', configFile, ...(opts.deleteUntagged ? ['--delete-untagged'] : [])];
    const { stdout, stderr } = await run(DISTRIBUTION_BINARY, args, { env: cleanEnv(), timeout: 60000, maxBuffer: 16 << 20 });
    return stdout + stderr;
  } finally {
    await rm(configDir, { recursive: true, force: true });
  }
}
