/**
 * The HTTP application: JSON API under /api, errors mapped in one place.
 * Dependencies arrive from the composition root (server/main.ts).
 */
import express, { type Request } from 'express';
import type { Logger } from 'pino';
import type { Authenticator, Principal } from '../auth/principal.js';
import type { Config } from '../config.js';
import type { LabCatalog } from '../labs/catalog.js';
import type { SandboxDriver } from '../sandbox/driver.js';
import type { SessionService } from '../sessions/service.js';
import type { Store } from '../store/store.js';
import type { TerminalTickets } from '../auth/tickets.js';
import { errorHandler, notFound } from './errors.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import { healthRoutes } from './routes/health.js';
import { historyRoutes } from './routes/history.js';
import { labRoutes } from './routes/labs.js';
import { notesRoutes } from './routes/notes.js';
import { sessionExtraRoutes } from './routes/session-extras.js';
import { sessionRoutes } from './routes/sessions.js';
import { webAuth } from './web-auth.js';
import { webApp } from './static.js';
import { forwardSessionRequests, type ForwardDeps } from '../replicas/forward.js';

export interface HttpDeps {
  config: Config;
  logger: Logger;
  version: string;
  driverKind: string;
  auth: Authenticator;
  labs: LabCatalog;
  sessions: SessionService;
  tickets: TerminalTickets;
  /** Repositories the web routes use directly (sign-ins, notes). */
  store: Store;
  /** For reading a live workspace (the report's commits). */
  driver: SandboxDriver;
  /** Several replicas: requests about a session another replica holds go there (server/replicas). */
  replicas?: Pick<ForwardDeps, 'replicaId' | 'remoteHolder'>;
}

/** Limits every JSON body; the API never needs more. */
const BODY_LIMIT = '64kb';

export function principalOf(req: Request): Principal | null {
  return (req as Request & { principal?: Principal | null }).principal ?? null;
}

export function createApp(deps: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // First, before any parser: a forwarded request travels unread, and the holder
  // authenticates it as if it had come straight from the client.
  if (deps.replicas) app.use(forwardSessionRequests({ ...deps.replicas, logger: deps.logger }));
  // Bearer token or sign-in cookie; cross-site cookie writes are refused here (web-auth.ts).
  const web = webAuth({ config: deps.config, auth: deps.auth, logins: { findUser: (hash) => deps.store.logins.findUser(hash) } });
  app.use(web.middleware);
  // Before the JSON parser: a note may be larger than BODY_LIMIT; its route parses its own body.
  app.use('/api', notesRoutes(deps));
  app.use(express.json({ limit: BODY_LIMIT, strict: true, type: ['application/json', 'application/*+json'] }));
  app.use('/api', healthRoutes(deps));
  app.use('/api', authRoutes(deps, web));
  app.use('/api', labRoutes(deps));
  app.use('/api', sessionRoutes(deps));
  app.use('/api', sessionExtraRoutes(deps));
  app.use('/api', historyRoutes(deps));
  app.use('/api', auditRoutes(deps));
  app.use(webApp());
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
