import type { Digest } from '../../oci/digest';
import type { AnalysisChild } from './analysis-child';

type Child = Pick<AnalysisChild, 'start' | 'job' | 'yield' | 'stop'>;

/**
 * `insight.processes` analysis children behind the one interface the server uses. One process
 * keeps about 1.3 cores busy (its main thread, and zlib's inflate on libuv's pool); more analyse
 * more layers at once on a machine with cores to spare (bench/README.md). They share the queue in
 * storage like replicas do: its claims keep a layer to one of them.
 */
export class AnalysisChildren {
  private next = 0;

  constructor(private readonly children: readonly Child[]) {
    if (children.length === 0) throw new Error('AnalysisChildren needs a child');
  }

  start(): void {
    for (const child of this.children) child.start();
  }

  /**
   * Each job is told to one child in turn: the layers of a push spread over them at once, where
   * telling all would make every child race for each claim. The others find it at their next look.
   */
  job(digest: Digest): void {
    this.children[this.next].job(digest);
    this.next = (this.next + 1) % this.children.length;
  }

  /** Only the child holding the claim has something to let go of (and answers); the others say nothing. */
  yield(digest: Digest): void {
    for (const child of this.children) child.yield(digest);
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((child) => child.stop()));
  }
}
