import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBerthProcess } from './berth-process';

export interface E2eRegistry {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, the registry part of image references */
  host: string;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * A Berth process on a fresh directory, for clients to push to and pull from. `prepare` may write
 * files there first (a config, an htpasswd) and return the command-line arguments to start with;
 * without it the directory is the storage root. The directory is removed on stop.
 */
export async function startE2eRegistry(prepare?: (dir: string) => Promise<string[]>): Promise<E2eRegistry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'e2e-berth-'));
  try {
    const berth = prepare
      ? await startBerthProcess({ args: await prepare(dir) })
      : await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: dir } });
    return {
      url: berth.url,
      host: new URL(berth.url).host,
      logs: berth.logs,
      async stop() {
        try {
          await berth.stop();
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Runs a test body; a failure carries the tail of the registry's log, to tell client from server faults. */
export async function withRegistryLogs<T>(registry: E2eRegistry | undefined, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof Error && registry) e.message += `\n--- registry log (tail)\n${registry.logs().slice(-6000)}`;
    throw e;
  }
}
