import { describe, expect, it } from 'vitest';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeAck,
  encodeControl,
  encodeInput,
  encodeOutput,
  encodeResize,
} from '../../../server/terminal/protocol.js';

function badCode(frame: Buffer): string | undefined {
  const d = decodeClientFrame(frame);
  return d.ok ? undefined : d.error.code;
}

describe('terminal protocol', () => {
  it('round-trips client frames', () => {
    const bytes = Buffer.from([0x00, 0xff, 0x1b, 0x30, 0x0a]);
    expect(decodeClientFrame(encodeInput(bytes))).toEqual({ ok: true, frame: { type: 'input', data: bytes } });
    expect(decodeClientFrame(encodeInput('ls -la\r'))).toEqual({ ok: true, frame: { type: 'input', data: Buffer.from('ls -la\r') } });
    expect(decodeClientFrame(encodeResize({ cols: 132, rows: 43 }))).toEqual({ ok: true, frame: { type: 'resize', size: { cols: 132, rows: 43 } } });
    expect(decodeClientFrame(encodeResize({ cols: 1000, rows: 500 }))).toEqual({ ok: true, frame: { type: 'resize', size: { cols: 1000, rows: 500 } } });
    expect(decodeClientFrame(encodeAck(65536))).toEqual({ ok: true, frame: { type: 'ack', bytes: 65536 } });
  });

  it('uses the ttyd opcodes on the wire', () => {
    expect(encodeInput('x').toString()).toBe('0x');
    expect(encodeResize({ cols: 80, rows: 24 }).toString()).toBe('1{"cols":80,"rows":24}');
    expect(encodeAck(12).toString()).toBe('212');
    expect(encodeOutput([Buffer.from('ab'), Buffer.from('c')]).toString()).toBe('0abc');
    expect(encodeControl({ type: 'state', state: 'ready' }).toString()).toBe('1{"type":"state","state":"ready"}');
  });

  it('round-trips server frames', () => {
    const out = Buffer.from('héllo\x1b[0m');
    expect(decodeServerFrame(encodeOutput(out))).toEqual({ ok: true, frame: { type: 'output', data: out } });
    const messages = [
      { type: 'hello', role: 'observer', session: 's1', cols: 80, rows: 24 },
      { type: 'resize', cols: 100, rows: 30 },
      { type: 'state', state: 'ended' },
      { type: 'error', code: 'READ_ONLY', message: 'no' },
      { type: 'exit', reason: 'sandbox stopped' },
    ] as const;
    for (const message of messages) {
      expect(decodeServerFrame(encodeControl(message))).toEqual({ ok: true, frame: { type: 'control', message } });
    }
  });

  it('rejects malformed client frames with BAD_FRAME instead of throwing', () => {
    const cases: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from('9abc'),
      Buffer.from([0x00]),
      Buffer.from('1'),
      Buffer.from('1{"cols":80'),
      Buffer.from('1[80,24]'),
      Buffer.from('1null'),
      Buffer.from('1{"cols":80}'),
      Buffer.from('1{"cols":0,"rows":24}'),
      Buffer.from('1{"cols":1001,"rows":24}'),
      Buffer.from('1{"cols":80,"rows":501}'),
      Buffer.from('1{"cols":80.5,"rows":24}'),
      Buffer.from('1{"cols":"80","rows":24}'),
      Buffer.from('1{"cols":-1,"rows":24}'),
      Buffer.concat([Buffer.from('1{"cols":80,"rows":24,"x":"'), Buffer.alloc(2000, 0x61), Buffer.from('"}')]),
      Buffer.from('2'),
      Buffer.from('2-5'),
      Buffer.from('2 12'),
      Buffer.from('21e3'),
      Buffer.from('212abc'),
      Buffer.from('21234567890123456'),
    ];
    for (const frame of cases) expect(badCode(frame), JSON.stringify(frame.toString())).toBe('BAD_FRAME');
  });

  it('rejects malformed server frames', () => {
    expect(decodeServerFrame(Buffer.alloc(0)).ok).toBe(false);
    expect(decodeServerFrame(Buffer.from('2x')).ok).toBe(false);
    expect(decodeServerFrame(Buffer.from('1{"type":"bogus"}')).ok).toBe(false);
    expect(decodeServerFrame(Buffer.from('1{oops')).ok).toBe(false);
  });
});
