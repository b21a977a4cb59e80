/**
 * Attacks on the API and the terminal WebSocket of a real server with a live session:
 * someone else's invite, an observer who types, replayed, expired and misdirected
 * tickets, a foreign Origin, malformed frames and JSON, oversized bodies, path tricks. The
 * session's shell keeps working through all of it.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ServerProcess } from '../helpers/server-process.js';
import { createSession, openTerminal, PROMPT, ticketFor, waitForState, type CreatedSession } from '../helpers/session-flow.js';
import { TerminalClient, UpgradeRefused } from '../helpers/terminal-client.js';
import { attack } from './row.js';

type ErrorBody = { error: { code: string; message: string } };
const TICKET_TTL_SECONDS = 2;

describe('attacks on the API', () => {
  let server: ServerProcess;
  let mine: CreatedSession;
  let theirs: CreatedSession;

  beforeAll(async () => {
    server = await ServerProcess.start({ OPSLAB_TICKET_TTL_SECONDS: String(TICKET_TTL_SECONDS) });
    mine = await createSession(server, 'hello', 'Mallory');
    theirs = await createSession(server, 'hello', 'Alice');
    await waitForState(server, mine.id, 'ready');
    await waitForState(server, theirs.id, 'ready');
  });

  afterAll(async () => {
    for (const s of [mine, theirs]) if (s) await server.api('POST', `/api/sessions/${s.id}/end`).catch(() => undefined);
    await server?.stop();
  });

  const wsUrl = (sessionId: string, ticket: string) => `${server.wsUrl}/api/sessions/${sessionId}/terminal?ticket=${ticket}`;

  attack('api', "a candidate's invite used on another candidate's session", '403 on read, grade, end, ticket; staff-only routes 403', async () => {
    const codes: number[] = [];
    for (const [method, p] of [
      ['GET', `/api/sessions/${theirs.id}`],
      ['POST', `/api/sessions/${theirs.id}/grade`],
      ['POST', `/api/sessions/${theirs.id}/terminal-ticket`],
      ['POST', `/api/sessions/${theirs.id}/end`],
      ['GET', '/api/sessions'],
      ['GET', `/api/sessions/${mine.id}/report`],
      ['GET', `/api/sessions/${mine.id}/recording`],
    ] as const) {
      const r = await server.api<ErrorBody>(method, p, { token: mine.candidateToken, body: method === 'POST' ? {} : undefined });
      expect(r.status, `${method} ${p}`).toBe(403);
      codes.push(r.status);
    }
    // Alice's session is untouched.
    expect((await server.api<{ state: string }>('GET', `/api/sessions/${theirs.id}`)).body.state).toBe('ready');
    return `${codes.length} requests, all ${[...new Set(codes)].join('/')}; the other session still ready`;
  });

  attack('api', 'an observer (staff, read-only ticket) typing into the shell', 'READ_ONLY error frame; nothing reaches the shell', async () => {
    const c = await openTerminal(server, mine.id, mine.candidateToken);
    const o = await openTerminal(server, mine.id, server.adminToken);
    try {
      await c.waitForText(PROMPT);
      o.type('touch /workspace/observer-was-here\r');
      await o.waitFor((x) => x.controls.some((m) => m.type === 'error' && m.code === 'READ_ONLY'), 'READ_ONLY error');
      c.type('ls /workspace; echo "ls-$((2+2))-done"\r');
      await c.waitForText('ls-4-done');
      expect(c.text()).not.toContain('observer-was-here');
      return 'READ_ONLY error; the file was never created';
    } finally {
      await o.close();
      await c.close();
    }
  });

  attack('api', 'a terminal ticket replayed after its first use', '401 on the second upgrade', async () => {
    const ticket = await ticketFor(server, mine.id, mine.candidateToken);
    const first = await TerminalClient.connect(wsUrl(mine.id, ticket));
    await first.close();
    const again = await TerminalClient.connect(wsUrl(mine.id, ticket)).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(UpgradeRefused);
    expect((again as UpgradeRefused).status).toBe(401);
    return `first upgrade ok, replay ${(again as UpgradeRefused).status}`;
  });

  attack('api', 'a terminal ticket used after it expired', '401', async () => {
    const ticket = await ticketFor(server, mine.id, mine.candidateToken);
    await new Promise((r) => setTimeout(r, TICKET_TTL_SECONDS * 1000 + 500));
    const late = await TerminalClient.connect(wsUrl(mine.id, ticket)).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(UpgradeRefused);
    expect((late as UpgradeRefused).status).toBe(401);
    return `${(late as UpgradeRefused).status} after ${TICKET_TTL_SECONDS + 0.5} s`;
  });

  attack('api', "a ticket for my session presented on someone else's session", '401 there, still good for mine', async () => {
    const ticket = await ticketFor(server, mine.id, mine.candidateToken);
    const wrong = await TerminalClient.connect(wsUrl(theirs.id, ticket)).catch((e: unknown) => e);
    expect((wrong as UpgradeRefused).status).toBe(401);
    const right = await TerminalClient.connect(wsUrl(mine.id, ticket));
    await right.close();
    return `${(wrong as UpgradeRefused).status} on theirs; accepted on mine`;
  });

  attack('api', 'a terminal upgrade from a foreign Origin (cross-site WebSocket hijacking)', '403', async () => {
    const ticket = await ticketFor(server, mine.id, mine.candidateToken);
    const foreign = await TerminalClient.connect(wsUrl(mine.id, ticket), { origin: 'https://evil.example' }).catch((e: unknown) => e);
    expect(foreign).toBeInstanceOf(UpgradeRefused);
    expect((foreign as UpgradeRefused).status).toBe(403);
    return String((foreign as UpgradeRefused).status);
  });

  attack('api', 'malformed terminal frames (bad JSON resize, unknown opcode, empty frame)', 'BAD_FRAME error frames; the shell keeps working', async () => {
    const c = await openTerminal(server, mine.id, mine.candidateToken);
    try {
      await c.waitForText(PROMPT);
      c.sendRaw('1{not json');
      c.sendRaw('9what');
      c.sendRaw(Buffer.alloc(0));
      c.sendRaw('1{"cols":-5,"rows":1e9}');
      await c.waitFor((x) => x.controls.filter((m) => m.type === 'error' && m.code === 'BAD_FRAME').length >= 3, 'BAD_FRAME errors');
      c.type('echo "still-$((2*21))"\r');
      await c.waitForText('still-42');
      return `${c.controls.filter((m) => m.type === 'error').length} error frames; shell answered`;
    } finally {
      await c.close();
    }
  });

  attack('api', 'malformed and invalid JSON bodies', '400 BAD_REQUEST / VALIDATION naming the field', async () => {
    const bad = await server.api<ErrorBody>('POST', '/api/sessions', { rawBody: '{"lab": "hello", ' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BAD_REQUEST');
    const invalid = await server.api<ErrorBody>('POST', '/api/sessions', { body: { lab: 'hello', candidate: {}, extra: 1 } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('VALIDATION');
    expect(invalid.body.error.message).toContain('candidate.name');
    return `${bad.body.error.code}; ${invalid.body.error.code}: ${invalid.body.error.message.slice(0, 60)}`;
  });

  attack('api', 'an oversized body (200 KB name, 2 MB note)', '413 PAYLOAD_TOO_LARGE', async () => {
    const huge = await server.api<ErrorBody>('POST', '/api/sessions', { body: { lab: 'hello', candidate: { name: 'x'.repeat(200_000) } } });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const note = await server.api<ErrorBody>('PUT', `/api/sessions/${mine.id}/notes`, { body: { text: 'n'.repeat(2_000_000) } });
    expect(note.status).toBe(413);
    return `${huge.status}, ${note.status}`;
  });

  attack('api', 'path tricks in session and lab ids (../, %2e%2e, NUL, encoded slashes)', '404 NOT_FOUND, nothing read', async () => {
    const paths = [
      '/api/sessions/..%2f..%2fetc',
      '/api/sessions/%2e%2e',
      '/api/labs/..%2f_images',
      '/api/labs/..%2f..%2fpackage.json',
      `/api/sessions/${mine.id}%00`,
      `/api/sessions/${mine.id}%2f..%2f${theirs.id}/recording`,
    ];
    for (const p of paths) {
      const r = await server.api<ErrorBody>('GET', p);
      expect(r.status, p).toBe(404);
      expect(r.body.error.code, p).toBe('NOT_FOUND');
    }
    return `${paths.length} paths, all 404`;
  });

  attack('api', 'malformed %-escapes in a session path (%E0%A4%A, a lone %)', '400 BAD_REQUEST naming the problem, nothing logged as a server error', async () => {
    const paths = ['/api/sessions/%E0%A4%A/report', `/api/sessions/${mine.id}%/recording`, '/api/labs/%zz'];
    const before = server.log.join('').split('unhandled error').length;
    for (const p of paths) {
      const r = await server.api<ErrorBody>('GET', p);
      expect(r.status, p).toBe(400);
      expect(r.body.error, p).toEqual({ code: 'BAD_REQUEST', message: 'the path has a malformed %-escape' });
    }
    expect(server.log.join('').split('unhandled error').length).toBe(before);
    return `${paths.length} paths, all 400 BAD_REQUEST`;
  });
});
