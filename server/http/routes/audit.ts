/**
 * `GET /api/audit`: the audit log, newest first, in pages. Admins read all of it; other
 * staff read the trail of one session at a time (`?session=`).
 */
import { Router } from 'express';
import { z } from 'zod';
import { requireStaff } from '../../auth/principal.js';
import { AppError } from '../../errors.js';
import { AUDIT_ACTIONS } from '../../store/audit-repo.js';
import { principalOf, type HttpDeps } from '../app.js';
import { parseBody, SESSION_ID } from '../validate.js';

const query = z
  .object({
    session: z.string().regex(SESSION_ID, 'a session id').optional(),
    actor: z.string().min(1).max(100).optional(),
    action: z.enum(AUDIT_ACTIONS).optional(),
    before: z.coerce.number().int().positive().optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

export function auditRoutes(deps: HttpDeps): Router {
  const r = Router();

  r.get('/audit', async (req, res) => {
    const staff = requireStaff(principalOf(req));
    const q = parseBody(query, req.query, 'query');
    if (staff.role !== 'admin' && q.session === undefined) {
      throw new AppError('FORBIDDEN', 'only admins read the whole audit log; ask for one session with ?session=ID');
    }
    const entries = await deps.store.audit.list({
      ...(q.session !== undefined ? { sessionId: q.session } : {}),
      ...(q.actor !== undefined ? { actorId: q.actor } : {}),
      ...(q.action !== undefined ? { action: q.action } : {}),
      ...(q.before !== undefined ? { before: q.before } : {}),
      limit: q.limit,
    });
    res.setHeader('cache-control', 'no-store');
    res.json({
      entries: entries.map((e) => ({ ...e, at: e.at.toISOString() })),
      // The next (older) page; null when this one is the last.
      next: entries.length === q.limit ? (entries.at(-1)?.id ?? null) : null,
    });
  });

  return r;
}
