import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { removeTree, spawnDaemon, waitUntil } from './daemon';
import { run } from './exec';
import { requireTool } from './tools';

export interface Containerd {
  address: string;
  /** `ctr --address A --namespace NS <args>`; throws with ctr's stderr on failure. */
  ctr: (args: readonly string[], opts?: { namespace?: string; timeoutMs?: number }) => Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

/** A private containerd (root, state and socket under one temp dir) for `ctr` to talk to. */
export async function startContainerd(): Promise<Containerd> {
  const containerd = requireTool('containerd');
  const ctrCli = requireTool('ctr');
  // Under /tmp: the socket path must stay short.
  const dir = await mkdtemp('/tmp/e2e-ctrd-');
  const address = path.join(dir, 'sock');
  const config = path.join(dir, 'config.toml');
  // The CRI plugin wants CNI and a kubelet; ctr needs none of it.
  await writeFile(
    config,
    [
      'version = 2',
      `root = ${JSON.stringify(path.join(dir, 'root'))}`,
      `state = ${JSON.stringify(path.join(dir, 'state'))}`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      // Each namespace keeps its own content, so a pull into a new namespace really downloads.
      '[plugins."io.containerd.metadata.v1.bolt"]',
      '  content_sharing_policy = "isolated"',
      '[grpc]',
      `  address = ${JSON.stringify(address)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(address + '.ttrpc')}`,
      '',
    ].join('\n'),
  );
  const daemon = spawnDaemon(containerd, ['--config', config]);
  const ctr = async (args: readonly string[], opts: { namespace?: string; timeoutMs?: number } = {}) =>
    (
      await run(ctrCli, ['--address', address, '--namespace', opts.namespace ?? 'e2e', ...args], {
        timeoutMs: opts.timeoutMs ?? 120_000,
      })
    ).stdout;
  const stop = async () => {
    try {
      await daemon.stop(15_000);
    } finally {
      await removeTree(dir);
    }
  };
  try {
    await waitUntil(
      'containerd',
      async () => (await run(ctrCli, ['--address', address, 'version'], { timeoutMs: 5_000, allowFailure: true })).code === 0,
      daemon,
      30_000,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { address, ctr, logs: daemon.logs, stop };
}
