/** The first `limit` bytes of a file read in chunks: what the secret rules search. */
export class FileHead {
  private readonly parts: Buffer[] = [];
  private length = 0;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    const room = this.limit - this.length;
    if (room <= 0) return;
    // Copied, so that a small head does not keep the tar parser's whole input chunk alive.
    const part = Buffer.from(chunk.subarray(0, room));
    this.parts.push(part);
    this.length += part.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}
