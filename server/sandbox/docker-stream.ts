/**
 * Docker's multiplexed stream framing (non-TTY exec/attach output): an 8-byte header
 * `[type, 0, 0, 0, size(u32 BE)]` before each payload, type 1 = stdout, 2 = stderr.
 *
 * Written by hand instead of using docker-modem's `demuxStream` because that one
 * concatenates its whole pending buffer on every chunk, which costs O(n²) on a fast
 * terminal stream; this parser keeps a list of chunks and copies each byte once.
 */
export type StreamKind = 'stdout' | 'stderr';

export class DockerStreamDemuxer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private frameType = 0;
  private frameRemaining = -1; // -1: waiting for a header

  constructor(private readonly emit: (kind: StreamKind, data: Buffer) => void) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.frameRemaining < 0) {
        const need = 8 - this.pendingBytes;
        const take = Math.min(need, chunk.length - offset);
        this.pending.push(chunk.subarray(offset, offset + take));
        this.pendingBytes += take;
        offset += take;
        if (this.pendingBytes < 8) return;
        const header = Buffer.concat(this.pending, 8);
        this.pending = [];
        this.pendingBytes = 0;
        this.frameType = header[0] ?? 1;
        this.frameRemaining = header.readUInt32BE(4);
        continue;
      }
      const take = Math.min(this.frameRemaining, chunk.length - offset);
      if (take > 0) {
        this.emit(this.frameType === 2 ? 'stderr' : 'stdout', chunk.subarray(offset, offset + take));
      }
      offset += take;
      this.frameRemaining -= take;
      if (this.frameRemaining === 0) this.frameRemaining = -1;
    }
  }
}
