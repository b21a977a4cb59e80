/**
 * The bounded output history of a local sandbox's shell: the last `capacity` bytes it
 * printed, with the absolute offset of the first kept byte. Bytes are copied into fixed
 * blocks, so a shell that prints in many tiny chunks costs no more than one that prints
 * in big ones, and dropping old output is dropping whole blocks.
 */
const BLOCK_BYTES = 64 * 1024;

export class OutputHistory {
  private readonly blocks: Buffer[] = [];
  /** Bytes used in the last block. */
  private lastUsed = 0;
  /** Bytes of the first block already dropped. */
  private headSkip = 0;
  private kept = 0;
  private end = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) throw new RangeError(`history capacity must be a positive integer, got ${capacity}`);
  }

  /** Absolute offset just past the last byte ever appended. */
  get endOffset(): number {
    return this.end;
  }

  /** Absolute offset of the first byte still kept. */
  get startOffset(): number {
    return this.end - this.kept;
  }

  append(data: Buffer): void {
    let pos = 0;
    while (pos < data.length) {
      let last = this.blocks[this.blocks.length - 1];
      if (last === undefined || this.lastUsed === BLOCK_BYTES) {
        last = Buffer.allocUnsafe(BLOCK_BYTES);
        this.blocks.push(last);
        this.lastUsed = 0;
      }
      const n = Math.min(BLOCK_BYTES - this.lastUsed, data.length - pos);
      data.copy(last, this.lastUsed, pos, pos + n);
      this.lastUsed += n;
      pos += n;
    }
    this.kept += data.length;
    this.end += data.length;
    this.trim();
  }

  /** A copy of everything kept, with the absolute offset of its first byte. */
  snapshot(): { offset: number; data: Buffer } {
    const parts: Buffer[] = [];
    this.blocks.forEach((block, i) => {
      const from = i === 0 ? this.headSkip : 0;
      const to = i === this.blocks.length - 1 ? this.lastUsed : BLOCK_BYTES;
      if (to > from) parts.push(block.subarray(from, to));
    });
    return { offset: this.startOffset, data: Buffer.concat(parts, this.kept) };
  }

  private trim(): void {
    while (this.kept > this.capacity) {
      const excess = this.kept - this.capacity;
      const firstEnd = this.blocks.length === 1 ? this.lastUsed : BLOCK_BYTES;
      const inFirst = firstEnd - this.headSkip;
      if (excess >= inFirst) {
        this.blocks.shift();
        this.headSkip = 0;
        this.kept -= inFirst;
        if (this.blocks.length === 0) this.lastUsed = 0;
      } else {
        this.headSkip += excess;
        this.kept -= excess;
      }
    }
  }
}
