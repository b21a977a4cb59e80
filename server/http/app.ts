/**
 * The HTTP application: JSON API under /api, errors mapped in one place.
 * Dependencies arrive from the composition root (server/main.ts).
 */
import express, { type Request } from 'express';
import type { Logger } from 'pino';
import type { Authenticator, Principal } from '../auth/principal.js';
import { bearerToken } from '../auth/tokens.js';
import type { Config } from '../config.js';
import type { LabCatalog } from '../labs/catalog.js';
import type { SessionService } from '../sessions/service.js';
import type { TerminalTickets } from '../auth/tickets.js';
import { errorHandler, notFound } from './errors.js';
import { healthRoutes } from './routes/health.js';
import { labRoutes } from './routes/labs.js';
import { sessionRoutes } from './routes/sessions.js';

export interface HttpDeps {
  config: Config;
  logger: Logger;
  version: string;
  driverKind: string;
  auth: Authenticator;
  labs: LabCatalog;
  sessions: SessionService;
  tickets: TerminalTickets;
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
  app.use(express.json({ limit: BODY_LIMIT, strict: true, type: ['application/json', 'application/*+json'] }));
  app.use((req, _res, next) => {
    (req as Request & { principal?: Principal | null }).principal = deps.auth.authenticate(
      bearerToken(req.headers.authorization),
    );
    next();
  });
  app.use('/api', healthRoutes(deps));
  app.use('/api', labRoutes(deps));
  app.use('/api', sessionRoutes(deps));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
