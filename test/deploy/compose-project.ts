import path from 'node:path';
import type { Dockerd } from '../helpers/dockerd';
import { run, type RunResult } from '../helpers/exec';
import { requireTool } from '../helpers/tools';

export const REPO_ROOT = path.resolve(__dirname, '../../..');

/** The compose files: the default stack, and the two that add to it (each needs its secrets). */
export const COMPOSE = {
  base: path.join(REPO_ROOT, 'docker-compose.yml'),
  s3: path.join(REPO_ROOT, 'deploy', 'compose', 's3.yml'),
  token: path.join(REPO_ROOT, 'deploy', 'compose', 'token.yml'),
  tls: path.join(REPO_ROOT, 'deploy', 'compose', 'tls.yml'),
  notifications: path.join(REPO_ROOT, 'deploy', 'compose', 'notifications.yml'),
};

export interface ComposeProject {
  run(args: string[], timeoutMs?: number, allowFailure?: boolean): Promise<RunResult>;
  logs(service?: string): Promise<string>;
  /** Resolves once the service's container reports `healthy`; fails if it turns `unhealthy` or time runs out. */
  healthy(service: string, timeoutMs: number): Promise<void>;
}

/** `docker-compose -f FILE... -p PROJECT` in the repository root, with `env`. */
export function composeProject(files: string[], project: string, env: NodeJS.ProcessEnv, dockerd?: Dockerd): ComposeProject {
  const fileArgs = files.flatMap((f) => ['-f', f]);
  const p: ComposeProject = {
    run: (args, timeoutMs = 180_000, allowFailure = false) => run(requireTool('docker-compose'), [...fileArgs, '-p', project, ...args], { env, cwd: REPO_ROOT, timeoutMs, allowFailure }),
    logs: async (service) => {
      const r = await p.run(['logs', '--no-color', '--tail', '80', ...(service ? [service] : [])], 30_000, true);
      return r.stdout + r.stderr;
    },
    healthy: async (service, timeoutMs) => {
      if (!dockerd) throw new Error('healthy() needs the dockerd');
      const id = (await p.run(['ps', '-q', service], 30_000)).stdout.trim();
      if (!id) throw new Error(`no container for ${service}`);
      const deadline = Date.now() + timeoutMs;
      let status = '';
      while (Date.now() < deadline) {
        status = (await dockerd.docker(['inspect', '-f', '{{.State.Health.Status}}', id])).trim();
        if (status === 'healthy') return;
        if (status === 'unhealthy') break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const health = await dockerd.docker(['inspect', '-f', '{{json .State.Health}}', id]).catch((e: Error) => e.message);
      throw new Error(`${service} is ${status || 'without health'} after ${timeoutMs} ms: ${health}\n${await p.logs(service)}`);
    },
  };
  return p;
}
