import { Router } from 'express';
import type { HttpDeps } from '../app.js';

export function healthRoutes(deps: HttpDeps): Router {
  const r = Router();
  r.get('/health', (_req, res) => {
    res.json({ status: 'ok', driver: deps.driverKind, version: deps.version });
  });
  return r;
}
