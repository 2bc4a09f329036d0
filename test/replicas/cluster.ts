import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { StorageDriver } from '../../storage-drivers/types';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy';
import { filesystemStore, s3Store, type SharedStore, type StoreKind } from './stores';

/** Several Berth processes on one store, behind a round-robin proxy. */
export interface Cluster {
  store: string;
  /** The replicas' environment: the shared store and secret (for `berth gc` or a driver on the same store). */
  env: Record<string, string>;
  /** Blob GETs answer 307 to the store (see StoreKind). */
  redirects: boolean;
  proxy: RoundRobinProxy;
  replicas: BerthProcess[];
  /** A driver of this process on the replicas' store. */
  driver(): StorageDriver;
  /** The replicas' logs, each under a heading, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

/**
 * The store kinds the replica tests run on; a kind that cannot run here skips (or fails in CI). On
 * S3, Berth streams blob bytes itself unless a suite asks for presigned redirects as well.
 */
export const STORE_KINDS: readonly StoreKind[] = [filesystemStore, s3Store(false)];
export const STORE_KINDS_WITH_REDIRECTS: readonly StoreKind[] = [...STORE_KINDS, s3Store(true)];

/**
 * Starts `count` replicas sharing `store` and one upload secret, and a proxy spreading requests over
 * them; `extraEnv` is added to each replica's environment.
 */
export async function startCluster(kind: StoreKind, count = 2, extraEnv: Record<string, string> = {}): Promise<Cluster> {
  const store: SharedStore = await kind.create();
  const secret = randomBytes(24).toString('hex');
  const env = { ...store.env, REGISTRY_HTTP_SECRET: secret };
  const replicas: BerthProcess[] = [];
  let proxy: RoundRobinProxy | undefined;
  const stop = async () => {
    await proxy?.close();
    await Promise.all(replicas.map((r) => r.stop()));
    await store.cleanup();
  };
  try {
    for (let i = 0; i < count; i++)
      replicas.push(await startBerthProcess({ env: { ...env, ...extraEnv } }));
    proxy = await startRoundRobinProxy(replicas.map((r) => r.url));
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    store: kind.name,
    env,
    redirects: kind.redirects,
    proxy,
    replicas,
    driver: () => store.driver(),
    logs: () => replicas.map((r, i) => `--- replica ${i} (${r.url}) log (tail)\n${r.logs().slice(-4000)}`).join('\n'),
    stop,
  };
}

/** Lines the replicas logged at level error or fatal (a 500 on any path logs one). */
export function loggedErrors(cluster: Cluster): string[] {
  return cluster.replicas.flatMap((r) =>
    r
      .logs()
      .split('\n')
      .filter((line) => /^\{.*"level":"(error|fatal)"/.test(line)),
  );
}

/** Runs a test body; a failure carries the replicas' log tails, to tell client from server faults. */
export async function withClusterLogs<T>(cluster: Cluster | undefined, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof Error && cluster) e.message += `\n${cluster.logs()}`;
    throw e;
  }
}

/**
 * Declares `body`'s tests once per store kind, each suite with a cluster of its own (started in
 * `before`, stopped in `after`). A kind whose prerequisites are missing is skipped with the reason,
 * except in CI, where the missing prerequisite is a failing test.
 */
export function describeOnStores(
  title: string,
  opts: { timeout: number; skip?: string | false; replicas?: number; kinds?: readonly StoreKind[]; env?: Record<string, string> },
  body: (cluster: () => Cluster) => void,
): void {
  for (const kind of opts.kinds ?? STORE_KINDS) {
    describe(`${title} on ${kind.name}`, { timeout: opts.timeout, skip: opts.skip }, async () => {
      const unavailable = opts.skip ? false : await kind.unavailable();
      if (unavailable) {
        if (process.env.CI) it('has its prerequisites', () => failMissing(unavailable));
        else it(`needs ${kind.name}`, { skip: unavailable }, () => undefined);
        return;
      }
      let cluster: Cluster | undefined;
      before(async () => {
        cluster = await startCluster(kind, opts.replicas ?? 2, opts.env);
      });
      after(async () => {
        await cluster?.stop();
      });
      body(() => {
        if (!cluster) throw new Error('the cluster did not start');
        return cluster;
      });
    });
  }
}

function failMissing(reason: string): never {
  throw new Error(`prerequisite missing in CI: ${reason}`);
}
