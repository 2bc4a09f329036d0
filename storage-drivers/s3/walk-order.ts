/**
 * Turns keys listed in S3's byte order into the contract's walk order (depth-first, lexical by
 * component, directories before their contents), which is byte order with '/' sorting first. The
 * two differ only where a name continues another with a character below '/' (`v1.0` and `v1/…`,
 * `foo-bar/…` and `foo/…`): such keys wait until the listing has passed the shorter name's
 * directory. Only those wait, so memory stays small unless a huge subtree has such a sibling.
 */
export function compareWalkOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return (x === 47 ? -1 : x) - (y === 47 ? -1 : y);
  }
  return a.length - b.length;
}

export class WalkOrder {
  private readonly heap: string[] = [];
  private last = '';

  /** `from`: where in the keys the walked directory's contents start (earlier characters are fixed). */
  constructor(private readonly from: number) {}

  /** Takes the next key in byte order; returns the keys that can now be emitted, in walk order. */
  push(key: string): string[] {
    this.last = key;
    this.insert(key);
    const out: string[] = [];
    while (this.heap.length > 0 && !this.blocked(this.heap[0])) out.push(this.pop());
    return out;
  }

  /** The rest, once the listing has ended. */
  finish(): string[] {
    const out: string[] = [];
    while (this.heap.length > 0) out.push(this.pop());
    return out;
  }

  /** A key waits while a later key could still be `d/…` for some `d` that the key continues with a char below '/'. */
  private blocked(key: string): boolean {
    for (let i = this.from; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c < 47 && i > this.from && key.charCodeAt(i - 1) !== 47 && this.last < `${key.slice(0, i)}0`) return true;
    }
    return false;
  }

  private insert(key: string): void {
    const h = this.heap;
    h.push(key);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (compareWalkOrder(h[parent], h[i]) <= 0) break;
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
  }

  private pop(): string {
    const h = this.heap;
    const top = h[0];
    const end = h.pop() as string;
    if (h.length > 0) {
      h[0] = end;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && compareWalkOrder(h[l], h[m]) < 0) m = l;
        if (r < h.length && compareWalkOrder(h[r], h[m]) < 0) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}
