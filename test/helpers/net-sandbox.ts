import { spawn } from 'node:child_process';
import { requireTool } from './tools';

export interface NetSandbox {
  /** The extra address on the namespace's `lo`. */
  address: string;
  /** Put before a command line to run it in the sandbox's network and mount namespaces. */
  prefix: string[];
  /** Ends the namespaces' holder; they vanish with the last process still inside. */
  stop(): Promise<void>;
}

export interface NetSandboxOptions {
  /** An IPv4 address added to `lo` inside the namespace (a /32: it reaches nothing else). */
  address: string;
  /** Directories bind-mounted over others, seen only by processes in the sandbox. */
  binds?: { source: string; target: string }[];
}

// Sets up the namespaces, reports, then holds them until its stdin closes: when the test process
// ends, however it ends, the pipe closes and the holder goes, so nothing outlives it but processes
// the test itself started inside.
const HOLDER = `set -e
ip link set lo up
ip addr add "$1/32" dev lo
shift
while [ $# -gt 0 ]; do mount --bind "$1" "$2"; shift 2; done
echo ready
read -r _ || true`;

/**
 * A private network namespace whose only device is `lo`, carrying 127.0.0.1, ::1 and `address`, plus
 * a private mount namespace with `binds`. Everything sent to `address` stays on that loopback device
 * inside the namespace, yet it is not in 127.0.0.0/8: clients that special-case loopback (dockerd
 * treats 127.0.0.0/8 registries as insecure and skips certificate checks) treat it as any remote host.
 * Anonymous namespaces (`unshare`, not `ip netns add`) leave nothing in /run/netns to clean up.
 */
export async function startNetSandbox(opts: NetSandboxOptions): Promise<NetSandbox> {
  const binds = (opts.binds ?? []).flatMap((b) => [b.source, b.target]);
  const holder = spawn(
    requireTool('unshare'),
    ['--net', '--mount', '--propagation', 'private', '--', 'sh', '-c', HOLDER, 'net-sandbox', opts.address, ...binds],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => holder.once('close', () => resolve()));
  holder.stdin.on('error', () => undefined); // EPIPE when it has already gone
  let output = '';
  holder.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const ready = await new Promise<boolean>((resolve) => {
    holder.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      if (output.includes('ready\n')) resolve(true);
    });
    void exited.then(() => resolve(false));
    holder.once('error', (e) => {
      output += e.message;
      resolve(false);
    });
  });
  const stop = async () => {
    holder.stdin.end();
    await exited;
  };
  if (!ready) {
    await stop();
    throw new Error(`network sandbox did not start: ${output}`);
  }
  // unshare without --fork execs the shell, so the holder's pid is inside both namespaces.
  const prefix = [requireTool('nsenter'), '--target', String(holder.pid), '--net', '--mount', '--'];
  return { address: opts.address, prefix, stop };
}
