import { Writable } from 'node:stream';
import type { FileWriter } from '../types';
import { endAndFinish } from '../streams';
import type { ChunkList } from './chunk-list';
import type { FileNode, Tree } from './tree';

type State = 'open' | 'committed' | 'cancelled';

/** Writes into the node's pending bytes; commit swaps them in as the readable content. */
export class MemoryWriter extends Writable implements FileWriter {
  private state: State = 'open';

  constructor(
    private readonly tree: Tree,
    private readonly parts: string[],
    private readonly node: FileNode,
    private readonly data: ChunkList,
    signal?: AbortSignal,
  ) {
    super({ signal });
  }

  get size(): number {
    return this.data.size;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.state !== 'open') return callback(new Error(`write after ${this.state}`));
    this.data.append(chunk);
    callback();
  }

  async commit(): Promise<void> {
    if (this.state !== 'open') throw new Error(`commit after ${this.state}`);
    await endAndFinish(this);
    this.state = 'committed';
    this.data.seal();
    this.node.committed = this.data;
    if (this.node.pending === this.data) this.node.pending = null;
    this.node.modTime = new Date();
  }

  async cancel(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'cancelled';
    if (!this.destroyed) this.destroy();
    if (this.node.pending === this.data) this.node.pending = null;
    if (this.node.committed === null) this.tree.remove(this.parts, this.node);
  }
}
