/**
 * The terminal WebSocket: `GET /api/sessions/:id/terminal?ticket=...` upgrades when the
 * Origin is allowed (or absent, for non-browser clients) and the single-use ticket is
 * valid for this session. The ticket's role decides what the connection may do; the
 * hub enforces it on every frame.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import type { TerminalTickets } from '../auth/tickets.js';
import { AppError, isAppError } from '../errors.js';
import type { SessionService } from '../sessions/service.js';
import { errorBody } from './errors.js';
import { SESSION_ID } from './validate.js';
import { FORWARDED_HEADER, forwardUpgrade, type ForwardDeps } from '../replicas/forward.js';

const TERMINAL_PATH = /^\/api\/sessions\/([^/]+)\/terminal$/;
/** Largest client frame: input is typed or pasted, never megabytes. */
const MAX_FRAME = 1024 * 1024;

export interface TerminalUpgradeDeps {
  allowedOrigins: ReadonlySet<string>;
  /** Several replicas: the holder of the session's terminal when it is another replica (server/replicas). */
  replicas?: Pick<ForwardDeps, 'replicaId' | 'remoteHolder'>;
  tickets: TerminalTickets;
  sessions: SessionService;
  logger: Logger;
}

function refuse(socket: Duplex, e: AppError): void {
  const body = JSON.stringify(errorBody(e));
  socket.end(
    `HTTP/1.1 ${e.status} ${e.code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function terminalUpgradeHandler(deps: TerminalUpgradeDeps) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME, perMessageDeflate: false });
  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    socket.on('error', () => socket.destroy());
    try {
      const url = new URL(req.url ?? '/', 'http://placeholder');
      const match = TERMINAL_PATH.exec(url.pathname);
      if (!match) throw new AppError('NOT_FOUND', 'no such endpoint');
      const sessionId = match[1] ?? '';
      if (!SESSION_ID.test(sessionId)) throw new AppError('NOT_FOUND', 'no such session');
      // The replica holding the shell checks the origin and spends the ticket itself.
      const holder = deps.replicas && req.headers[FORWARDED_HEADER] === undefined ? await deps.replicas.remoteHolder(sessionId) : null;
      if (holder && deps.replicas) {
        forwardUpgrade(req, socket, head, holder, { replicaId: deps.replicas.replicaId, logger: deps.logger }, (e) => refuse(socket, e));
        return;
      }
      const origin = req.headers.origin;
      if (origin !== undefined && !deps.allowedOrigins.has(origin)) {
        throw new AppError('FORBIDDEN', `origin ${origin} is not allowed to open terminals`);
      }
      const ticket = url.searchParams.get('ticket');
      if (!ticket) throw new AppError('TICKET_INVALID', 'a terminal ticket is required');
      // The state is checked before the ticket is spent, so a client that connects a
      // moment too early can retry with the same ticket.
      const session = await deps.sessions.get(sessionId);
      const hub = deps.sessions.hub(sessionId);
      if (session && (session.state !== 'ready' || !hub)) {
        throw new AppError('WRONG_STATE', session.state === 'starting' ? 'the sandbox is still starting' : `the session is ${session.state}`);
      }
      const redeemed = await deps.tickets.redeem(ticket, sessionId);
      if (!session || !hub) throw new AppError('NOT_FOUND', 'no such session');
      wss.handleUpgrade(req, socket, head, (ws) => {
        hub.attach(ws, redeemed.write ? 'candidate' : 'observer');
      });
    } catch (e) {
      if (!isAppError(e)) deps.logger.error({ err: e }, 'terminal upgrade failed');
      refuse(socket, isAppError(e) ? e : new AppError('INTERNAL', 'the terminal could not be opened'));
    }
  };
  // The store answers asynchronously; every failure is caught and refused inside.
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    void upgrade(req, socket, head);
  };
}
