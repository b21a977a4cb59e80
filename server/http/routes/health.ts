import { Router } from 'express';
import { describeError } from '../../errors.js';
import type { HttpDeps } from '../app.js';

/** How long readiness waits for the database before calling this replica not ready. */
const READY_DB_TIMEOUT_MS = 2_000;

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
  // Liveness: the process answers. Nothing else, so a slow database never gets a
  // replica restarted (its candidates' terminals would all reconnect for nothing).
  r.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Readiness: the database answers, so requests sent here can be served. A replica that
  // cannot reach it is taken out of the Service until it can.
  r.get('/health/ready', async (_req, res) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        deps.store.ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${READY_DB_TIMEOUT_MS / 1000} s`)), READY_DB_TIMEOUT_MS);
        }),
      ]);
      res.json({ status: 'ok', ...(deps.replicas ? { replica: deps.replicas.replicaId } : {}) });
    } catch (e) {
      res.status(503).json({ status: 'unavailable', reason: `the ${deps.store.kind} database does not answer: ${describeError(e)}` });
    } finally {
      clearTimeout(timer);
    }
  });
  return r;
}
