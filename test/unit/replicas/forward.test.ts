/**
 * Forwarding between replicas over real sockets: a "front" replica that does not hold the
 * session passes HTTP requests and terminal upgrades through to the "holder", which
 * answers them itself.
 */
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { AppError } from '../../../server/errors.js';
import { errorHandler } from '../../../server/http/errors.js';
import { FORWARDED_HEADER, forwardSessionRequests, forwardUpgrade, sessionIdOfPath, type RemoteHolder } from '../../../server/replicas/forward.js';

const logger = pino({ level: 'silent' });

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('forwarding to the replica that holds a session', () => {
  let holderUrl: string;
  let frontUrl: string;
  let holderServer: http.Server;
  let frontServer: http.Server;
  /** Which sessions live elsewhere, and where. */
  const remote = new Map<string, RemoteHolder>();

  beforeAll(async () => {
    // The holder: echoes what it received, and runs a WebSocket echo for the terminal path.
    const holder = express();
    holder.use(express.text({ type: '*/*' }));
    holder.all(/.*/, (req, res) => {
      res.setHeader('x-served-by', 'holder');
      res.status(201).json({ method: req.method, url: req.originalUrl, body: req.body, forwardedBy: req.headers[FORWARDED_HEADER] ?? null, auth: req.headers.authorization ?? null });
    });
    holderServer = http.createServer(holder);
    const wss = new WebSocketServer({ noServer: true });
    holderServer.on('upgrade', (req: IncomingMessage, socket, head) => {
      if (!req.url?.includes('ticket=good')) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"error":{"code":"TICKET_INVALID"}}');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.send(`hello from holder, forwarded by ${String(req.headers[FORWARDED_HEADER])}`);
        ws.on('message', (m) => ws.send(`echo:${m.toString()}`));
      });
    });
    holderUrl = await listen(holderServer);

    // The front: forwards what belongs to a remote session, serves the rest itself.
    const deps = { replicaId: 'front-1', logger, remoteHolder: async (id: string) => remote.get(id) ?? null, connectTimeoutMs: 2_000 };
    const front = express();
    front.use(forwardSessionRequests(deps));
    front.use((_req, res) => res.status(200).json({ servedBy: 'front' }));
    front.use(errorHandler(logger));
    frontServer = http.createServer(front);
    frontServer.on('upgrade', (req: IncomingMessage, socket, head) => {
      const id = sessionIdOfPath(req.url);
      const holder = id ? remote.get(id) : undefined;
      if (!holder) return socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      forwardUpgrade(req, socket, head, holder, deps, (e: AppError) => socket.end(`HTTP/1.1 503 ${e.code}\r\nConnection: close\r\n\r\n${e.message}`));
    });
    frontUrl = await listen(frontServer);
    remote.set('s-remote', { replicaId: 'holder-1', address: holderUrl });
    remote.set('s-dead', { replicaId: 'dead-1', address: 'http://127.0.0.1:1' });
  });

  afterAll(async () => {
    holderServer.closeAllConnections();
    frontServer.closeAllConnections();
    await Promise.all([new Promise((r) => holderServer.close(r)), new Promise((r) => frontServer.close(r))]);
  });

  it('finds the session id in session paths only', () => {
    expect(sessionIdOfPath('/api/sessions/abc/terminal?ticket=x')).toBe('abc');
    expect(sessionIdOfPath('/api/sessions/abc')).toBe('abc');
    expect(sessionIdOfPath('/api/sessions')).toBeNull();
    expect(sessionIdOfPath('/api/sessions?state=ready')).toBeNull();
    expect(sessionIdOfPath('/api/labs/abc')).toBeNull();
    expect(sessionIdOfPath('/api/sessions/%E0%A4%A/report')).toBeNull();
  });

  it('passes a request with its body and credentials through to the holder, and its answer back', async () => {
    const res = await fetch(`${frontUrl}/api/sessions/s-remote/grade?x=1`, { method: 'POST', body: 'payload-42', headers: { authorization: 'Bearer t', 'content-type': 'text/plain' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-served-by')).toBe('holder');
    expect(await res.json()).toEqual({ method: 'POST', url: '/api/sessions/s-remote/grade?x=1', body: 'payload-42', forwardedBy: 'front-1', auth: 'Bearer t' });
  });

  it('serves sessions it holds, the session list, and requests forwarded once already', async () => {
    expect(await (await fetch(`${frontUrl}/api/sessions/s-local`)).json()).toEqual({ servedBy: 'front' });
    expect(await (await fetch(`${frontUrl}/api/sessions`)).json()).toEqual({ servedBy: 'front' });
    const again = await fetch(`${frontUrl}/api/sessions/s-remote`, { headers: { [FORWARDED_HEADER]: 'other' } });
    expect(await again.json()).toEqual({ servedBy: 'front' });
  });

  it('answers 503 REPLICA_UNAVAILABLE, naming the holder, when the holder does not answer', async () => {
    const res = await fetch(`${frontUrl}/api/sessions/s-dead/report`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('REPLICA_UNAVAILABLE');
    expect(body.error.message).toContain('dead-1');
  });

  it('splices a terminal WebSocket through to the holder, both ways', async () => {
    const ws = new WebSocket(`${frontUrl.replace('http', 'ws')}/api/sessions/s-remote/terminal?ticket=good`);
    const got: string[] = [];
    ws.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send('ls -l');
    await expect.poll(() => got).toEqual(['hello from holder, forwarded by front-1', 'echo:ls -l']);
    ws.close();
  });

  it("relays the holder's refusal of an upgrade, status and body", async () => {
    const ws = new WebSocket(`${frontUrl.replace('http', 'ws')}/api/sessions/s-remote/terminal?ticket=spent`);
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
    });
    expect(status).toBe(401);
  });

  it('tells the client when the holder of a terminal does not answer', async () => {
    const ws = new WebSocket(`${frontUrl.replace('http', 'ws')}/api/sessions/s-dead/terminal?ticket=good`);
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
      ws.once('error', () => resolve(-1));
    });
    expect(status).toBe(503);
  });
});
