/**
 * The Docker terminal stream over fake engine streams: output the shell printed before
 * anyone listened (openTty resizes the TTY, and the shell redraws its prompt, before the
 * caller has the stream) reaches the first listener, in order, once.
 */
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DockerTerminalStream } from '../../../server/sandbox/docker-terminal.js';

/** One frame of Docker's multiplexed exec stream (stream 1: stdout). */
function stdoutFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = 1;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

describe('DockerTerminalStream', () => {
  it('hands output that arrived before the first listener to it, then streams live', async () => {
    const output = new PassThrough();
    const input = new PassThrough();
    const stream = new DockerTerminalStream({
      input,
      output,
      resize: async () => undefined,
      stopReader: async () => undefined,
      logger: pino({ level: 'silent' }),
    });
    output.write(stdoutFrame('redrawn prompt$ '));
    output.write(stdoutFrame('more'));
    await new Promise((r) => setImmediate(r));
    const got: string[] = [];
    stream.onData((c) => got.push(c.toString()));
    expect(got).toEqual(['redrawn prompt$ ', 'more']);
    output.write(stdoutFrame(' live'));
    await new Promise((r) => setImmediate(r));
    expect(got.join('')).toBe('redrawn prompt$ more live');
    stream.close();
  });
});
