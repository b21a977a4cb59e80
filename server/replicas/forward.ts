/**
 * Forwarding between replicas. Each live session's terminal is held by one replica at a
 * time (a lease in the database, server/replicas/lease-keeper.ts); a request about that
 * session reaching another replica is passed through to the holder unchanged — HTTP
 * requests and terminal WebSocket upgrades alike — so that grading, events, the
 * recording and the shell are all served where the session lives. The holder
 * authenticates the request itself: nothing is trusted because it was forwarded.
 *
 * Written by hand on `node:http` rather than with a proxy library: it is two small
 * pass-throughs (a request and an upgrade), and the behaviour that matters — never loop,
 * say clearly when the holder does not answer — is ours either way.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';

/** Marks a forwarded request (its value: the forwarding replica's id), so it is never forwarded again. */
export const FORWARDED_HEADER = 'x-opslab-forwarded-by';

/** `/api/sessions/<id>` and everything under it; not `/api/sessions` itself (list, create). */
const SESSION_PATH = /^\/api\/sessions\/([^/?#]+)(?:[/?#]|$)/;

export interface RemoteHolder {
  replicaId: string;
  /** Base URL other replicas reach it on, e.g. `http://10.0.3.7:8080`. */
  address: string;
}

export interface ForwardDeps {
  /** Id of this replica (sent in FORWARDED_HEADER). */
  replicaId: string;
  /**
   * The live holder of the session's terminal when it is another replica; null when it is
   * this one, nobody, or a holder whose lease ran out (this replica serves, taking over).
   */
  remoteHolder(sessionId: string): Promise<RemoteHolder | null>;
  logger: Logger;
  /** How long to wait for the holder to answer before giving up (default 10 s). */
  connectTimeoutMs?: number;
}

export function sessionIdOfPath(url: string | undefined): string | null {
  const m = SESSION_PATH.exec(url ?? '');
  if (!m?.[1]) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null; // malformed escapes: no session of ours; the routes answer 404
  }
}

/** Connection-scoped headers a pass-through must not copy (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function forwardedHeaders(headers: IncomingHttpHeaders, replicaId: string, keepUpgrade: boolean): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (!keepUpgrade && HOP_BY_HOP.has(k)) continue;
    out[k] = v;
  }
  out[FORWARDED_HEADER] = replicaId;
  return out;
}

function unavailable(holder: RemoteHolder, cause: unknown): AppError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new AppError(
    'REPLICA_UNAVAILABLE',
    `the replica running this session's terminal (${holder.replicaId}) does not answer (${why}); another replica takes the session over within seconds: try again`,
  );
}

/**
 * Express middleware, mounted before any body parser (the body is streamed through
 * untouched). Requests already forwarded once are always served here.
 */
export function forwardSessionRequests(deps: ForwardDeps): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const sessionId = sessionIdOfPath(req.originalUrl);
    if (!sessionId || req.headers[FORWARDED_HEADER] !== undefined) return next();
    deps
      .remoteHolder(sessionId)
      .then((holder) => {
        if (!holder) return next();
        const target = new URL(req.originalUrl, holder.address);
        const upstream = http.request(target, {
          method: req.method,
          headers: forwardedHeaders(req.headers, deps.replicaId, false),
          timeout: deps.connectTimeoutMs ?? 10_000,
        });
        upstream.on('timeout', () => upstream.destroy(new Error('timed out')));
        upstream.on('response', (answer: IncomingMessage) => {
          const headers: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
          res.writeHead(answer.statusCode ?? 502, headers);
          // Streams (events, recordings) run as long as both ends do; the socket timeout
          // only guards the wait for the first answer.
          upstream.setTimeout(0);
          answer.pipe(res);
          res.on('close', () => answer.destroy());
        });
        upstream.on('error', (e) => {
          if (res.headersSent) return res.destroy(e);
          deps.logger.warn({ sessionId, holder, err: e }, 'forwarding to the session holder failed');
          next(unavailable(holder, e));
        });
        req.pipe(upstream);
      })
      .catch(next);
  };
}

function writeHead(socket: Duplex, statusLine: string, rawHeaders: string[]): void {
  let head = `${statusLine}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  socket.write(`${head}\r\n`);
}

/**
 * Passes a terminal WebSocket upgrade through to the holder and then splices the two
 * sockets: frames flow untouched in both directions, and either side closing closes the
 * other. The holder's refusal (a spent ticket, a wrong origin) reaches the client as is.
 * `onUnavailable` answers the client when the holder cannot be reached at all.
 */
export function forwardUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  holder: RemoteHolder,
  deps: Pick<ForwardDeps, 'replicaId' | 'logger' | 'connectTimeoutMs'>,
  onUnavailable: (e: AppError) => void,
): void {
  const target = new URL(req.url ?? '/', holder.address);
  const upstream = http.request(target, {
    method: 'GET',
    headers: forwardedHeaders(req.headers, deps.replicaId, true),
    timeout: deps.connectTimeoutMs ?? 10_000,
  });
  let settled = false;
  upstream.on('timeout', () => upstream.destroy(new Error('timed out')));
  upstream.on('upgrade', (answer: IncomingMessage, upSocket: Duplex, upHead: Buffer) => {
    settled = true;
    upstream.setTimeout(0);
    writeHead(socket, `HTTP/1.1 101 ${answer.statusMessage ?? 'Switching Protocols'}`, answer.rawHeaders);
    if (upHead.length) socket.write(upHead);
    if (head.length) upSocket.write(head);
    const closeBoth = () => {
      socket.destroy();
      upSocket.destroy();
    };
    upSocket.on('error', closeBoth);
    socket.on('error', closeBoth);
    upSocket.on('close', closeBoth);
    socket.on('close', closeBoth);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
  });
  upstream.on('response', (answer: IncomingMessage) => {
    // The holder refused the upgrade: relay its answer (status, code, message) and close.
    settled = true;
    writeHead(socket, `HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}`, answer.rawHeaders);
    answer.pipe(socket);
  });
  upstream.on('error', (e) => {
    if (settled) return;
    settled = true;
    deps.logger.warn({ holder, err: e }, 'forwarding a terminal to the session holder failed');
    onUnavailable(unavailable(holder, e));
  });
  upstream.end();
}
