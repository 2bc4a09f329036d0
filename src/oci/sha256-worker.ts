import { parentPort } from 'node:worker_threads';
import { createSHA256, type IHasher } from 'hash-wasm';
import type { ToWorker, FromWorker } from './sha256-messages';

/**
 * The worker thread behind remote-sha256.ts: hash-wasm's sha256 for many uploads at once, so that
 * the thread serving requests only moves bytes. Messages of one upload are handled in order.
 */
const hashers = new Map<number, Promise<IHasher>>();
const port = parentPort!;

function reply(message: FromWorker): void {
  port.postMessage(message);
}

async function start(saved: Uint8Array | undefined): Promise<IHasher> {
  const hasher = await createSHA256();
  if (saved === undefined) hasher.init();
  else hasher.load(saved);
  return hasher;
}

async function handle(m: ToWorker): Promise<void> {
  if (m.op === 'start') {
    hashers.set(m.id, start(m.saved));
    return;
  }
  const hasher = hashers.get(m.id);
  if (m.op === 'drop' || hasher === undefined) {
    hashers.delete(m.id);
    if (m.op === 'save' || m.op === 'digest') reply({ seq: m.seq, error: 'unknown hasher' });
    return;
  }
  try {
    const h = await hasher;
    if (m.op === 'update') {
      h.update(new Uint8Array(m.data));
      reply({ id: m.id, hashed: m.data.byteLength });
    } else if (m.op === 'save') reply({ seq: m.seq, state: h.save() });
    else {
      hashers.delete(m.id);
      reply({ seq: m.seq, hex: h.digest('hex') });
    }
  } catch (err) {
    hashers.delete(m.id);
    if (m.op === 'update') reply({ id: m.id, failed: String(err) });
    else reply({ seq: m.seq, error: String(err) });
  }
}

// One chain: a hasher's start (async, once) must come before its updates.
let queue = Promise.resolve();
port.on('message', (m: ToWorker) => {
  queue = queue.then(() => handle(m));
});
