import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerthProcess } from '../test/helpers/berth-process';
import { Client } from './client';

export interface Target {
  client: Client;
  /**
   * True when the registry under test is Berth (self-started, or BERTH_CONFORMANCE_STRICT=1): then the
   * suite also asserts what the spec leaves optional (MAY/SHOULD) but Berth promises: tag and blob
   * deletion, rejecting manifests with unknown blobs, a 4 MiB manifest limit, automatic cross-mount.
   */
  strict: boolean;
  close(): Promise<void>;
}

/**
 * The registry under test: the one at BERTH_CONFORMANCE_URL if set (e.g. http://127.0.0.1:5000),
 * otherwise a fresh Berth process on a temporary directory that `close()` removes again.
 */
export async function openTarget(): Promise<Target> {
  const external = process.env.BERTH_CONFORMANCE_URL;
  if (external) {
    const strict = process.env.BERTH_CONFORMANCE_STRICT === '1';
    return {
      client: new Client(external, strict),
      strict,
      close: async () => {},
    };
  }
  const root = await mkdtemp(join(tmpdir(), 'berth-conformance-'));
  try {
    const berth = await startBerthProcess({
      env: {
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root,
        REGISTRY_STORAGE_DELETE_ENABLED: 'true',
        REGISTRY_LOG_ACCESSLOG_DISABLED: 'true',
      },
    });
    return {
      client: new Client(berth.url, true),
      strict: true,
      close: async () => {
        try {
          await berth.stop();
        } finally {
          await rm(root, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}
