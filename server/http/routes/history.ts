/**
 * The candidate's commits and their diff, for the report (staff only): from a fresh
 * snapshot of a live sandbox, or from the workspace archived when the session ended.
 */
import fs from 'node:fs';
import { Router } from 'express';
import { requireStaff } from '../../auth/principal.js';
import { AppError } from '../../errors.js';
import { historyOfArchive, historyOfTar, type History } from '../../sessions/history.js';
import { principalOf, type HttpDeps } from '../app.js';
import { sessionIdParam } from '../validate.js';

/** Archived histories never change: keep a few, for report pages opened again. */
const ARCHIVE_CACHE_SIZE = 16;

export function historyRoutes(deps: HttpDeps): Router {
  const r = Router();
  // One snapshot at a time per live session: concurrent requests share it.
  const live = new Map<string, Promise<History>>();
  const archived = new Map<string, History>();

  const fromArchive = async (id: string, start: string | null): Promise<History | null> => {
    const cached = archived.get(id);
    if (cached) return cached;
    const file = deps.sessions.workspaceArchivePath(id);
    if (!fs.existsSync(file)) return null;
    const history = await historyOfArchive(file, start);
    archived.set(id, history);
    if (archived.size > ARCHIVE_CACHE_SIZE) archived.delete(archived.keys().next().value as string);
    return history;
  };

  r.get('/sessions/:id/commits', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    requireStaff(principalOf(req));
    const session = await deps.sessions.require(id);
    res.setHeader('cache-control', 'no-store');
    if (session.state === 'starting') throw new AppError('WRONG_STATE', 'the workspace is not ready yet');
    if (session.state === 'ready' && session.sandbox) {
      const ref = session.sandbox;
      let run = live.get(id);
      if (!run) {
        run = (async () => historyOfTar(await deps.driver.archive(ref), session.startCommit))().finally(() => live.delete(id));
        live.set(id, run);
      }
      try {
        res.json({ source: 'live', ...(await run) });
        return;
      } catch (e) {
        // Ended while we read: the sandbox is gone, but the archive was made before it went.
        if ((await deps.sessions.get(id))?.state === 'ready') throw e;
      }
    }
    const history = await fromArchive(id, session.startCommit);
    if (!history) throw new AppError('NOT_FOUND', 'this session has no archived workspace (it never became ready, or archiving failed)');
    res.json({ source: 'archive', ...history });
  });

  return r;
}
