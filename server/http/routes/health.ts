import { Router } from 'express';
import type { HttpDeps } from '../app.js';

export function healthRoutes(deps: HttpDeps): Router {
  const r = Router();
  r.get('/health', (_req, res) => {
    res.json({
      status: 'ok',
      driver: deps.driverKind,
      version: deps.version,
      // Only the docker driver has one; the local driver isolates nothing at all.
      networkGuard: deps.driver.networkGuard ?? { enabled: false, detail: `the ${deps.driverKind} driver has no network isolation` },
      diskLimit: deps.driver.diskLimit ?? { enabled: false, detail: `the ${deps.driverKind} driver does not limit disk use` },
      pools: deps.sessions.poolStatus(),
    });
  });
  return r;
}
