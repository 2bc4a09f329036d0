import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseListenAddress } from '../../src/config/listen-address';

export interface BerthProcessOptions {
  /**
   * Extra environment; merged over `REGISTRY_HTTP_WORKERS=1` (one process unless a test is about
   * workers, or the parent's environment sets it), the parent's and `REGISTRY_HTTP_ADDR=127.0.0.1:0`.
   */
  env?: Record<string, string | undefined>;
  /** Extra arguments after `serve` (e.g. `['--config', file]`). */
  args?: string[];
  cwd?: string;
  /** How long to wait for the `listening` line (default 15 s). */
  startTimeoutMs?: number;
  /** A command line to run node under (it must exec it), e.g. a NetSandbox's `prefix`. */
  prefix?: readonly string[];
}

export interface BerthProcess {
  /** http://127.0.0.1:PORT (or the bound host); https:// when the listener serves TLS. */
  url: string;
  port: number;
  proc: ChildProcess;
  /** Sends `signal` (default SIGTERM), SIGKILLs after `killAfterMs`, resolves with the exit code (null if killed). */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<number | null>;
  /** Everything the process wrote to stdout and stderr so far. */
  logs: () => string;
}

// This file compiles to dist/test/helpers/, so main.js is at dist/src/main.js.
export const MAIN_JS = path.resolve(__dirname, '..', '..', 'src', 'main.js');

/** Where to reach a listener from its logged address: a wildcard host is reached on loopback. */
function parseAddress(address: string): { host: string; port: number } | null {
  let parsed;
  try {
    parsed = parseListenAddress(address);
  } catch {
    return null;
  }
  const host = parsed.host === undefined || parsed.host === '0.0.0.0' || parsed.host === '::' ? '127.0.0.1' : parsed.host;
  return { host, port: parsed.port };
}

/**
 * The default http.workers is the machine's CPUs; the tests that are not about workers run one
 * process. A collection that sweeps waits its quiet period (15 s by default) before re-reading what
 * pushes linked; the tests keep it short (writes still take the path it opens within 150 ms of a
 * read of the sweep state), and test/gc/quiet-period.test.ts measures the default.
 */
export const TEST_QUIET_PERIOD = '300ms';
export const SHORT_QUIET_PERIOD = { REGISTRY_STORAGE_MAINTENANCE_GC_QUIETPERIOD: TEST_QUIET_PERIOD };
const ONE_WORKER = { REGISTRY_HTTP_WORKERS: '1', ...SHORT_QUIET_PERIOD };

export interface BerthRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/src/main.js ARGS` to completion (SIGKILLed after `timeoutMs`) and returns its exit code and output. */
export function runBerth(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<BerthRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [MAIN_JS, ...args], { env: { PATH: process.env.PATH, ...ONE_WORKER, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    proc.once('error', reject);
    proc.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A log line's fields, from JSON or from `log.formatter: text` ("… INFO  listening address=… tls=false"). */
function listeningRecord(line: string): { msg?: unknown; address?: unknown; tls?: unknown } | undefined {
  try {
    return JSON.parse(line) as { msg?: unknown; address?: unknown; tls?: unknown };
  } catch {
    const text = /^\S+ INFO +listening (?:.* )?address=(\S+)(?:.* tls=(true|false))?/.exec(line);
    return text ? { msg: 'listening', address: text[1], tls: text[2] === 'true' } : undefined;
  }
}

/** Spawns `node dist/src/main.js serve` and resolves once it logs that it is listening (JSON or text). */
export function startBerthProcess(opts: BerthProcessOptions = {}): Promise<BerthProcess> {
  // The parent's REGISTRY_HTTP_WORKERS wins over ONE_WORKER: a whole suite can run on workers.
  const env: Record<string, string | undefined> = { ...ONE_WORKER, ...process.env, REGISTRY_HTTP_ADDR: '127.0.0.1:0', ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const [cmd = process.execPath, ...before] = [...(opts.prefix ?? []), process.execPath];
  const proc = spawn(cmd, [...before, MAIN_JS, 'serve', ...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdoutBuf = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));

  return new Promise<BerthProcess>((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      reject(new Error(`berth ${why}; output:\n${output}`));
    };
    const timer = setTimeout(() => fail(`did not log "listening" within ${opts.startTimeoutMs ?? 15000} ms`), opts.startTimeoutMs ?? 15000);
    proc.once('error', (e) => fail(`failed to spawn: ${e.message}`));
    void exited.then((code) => {
      // Let stderr drain so the rejection carries the process's last words.
      setImmediate(() => fail(`exited with code ${code} before listening`));
    });

    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      if (settled) return;
      stdoutBuf += d;
      let nl: number;
      while ((nl = stdoutBuf.indexOf('\n')) >= 0) {
        const line = stdoutBuf.slice(0, nl);
        stdoutBuf = stdoutBuf.slice(nl + 1);
        const rec = listeningRecord(line);
        if (!rec) continue;
        if (rec.msg !== 'listening' || typeof rec.address !== 'string') continue;
        const addr = parseAddress(rec.address);
        if (!addr) return fail(`logged an unparsable address ${rec.address}`);
        settled = true;
        clearTimeout(timer);
        const hostInUrl = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
        resolve({
          url: `${rec.tls === true ? 'https' : 'http'}://${hostInUrl}:${addr.port}`,
          port: addr.port,
          proc,
          logs: () => output,
          async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 10000) {
            if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
            proc.kill(signal);
            const killer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
            try {
              return await exited;
            } finally {
              clearTimeout(killer);
            }
          },
        });
        return;
      }
    });
  });
}

/**
 * The error of a start expected to fail. A process that starts after all is stopped before the
 * assertion fails: `assert.rejects(startBerthProcess(…))` would leave it running past the test.
 */
export async function startupFailure(opts: BerthProcessOptions = {}): Promise<Error> {
  let started: BerthProcess;
  try {
    started = await startBerthProcess(opts);
  } catch (err) {
    return err as Error;
  }
  await started.stop('SIGKILL');
  throw new Error(`berth started at ${started.url} where it should have refused to; output:\n${started.logs()}`);
}
