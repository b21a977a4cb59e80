/**
 * What the web pages need beside the core session routes: more time for a live session
 * (staff), and the lab's brief for the candidate's page (which cannot read /api/labs).
 */
import { Router } from 'express';
import { z } from 'zod';
import { requireSessionAccess, requireStaff } from '../../auth/principal.js';
import { audit } from '../audit.js';
import { principalOf, type HttpDeps } from '../app.js';
import { parseBody, sessionIdParam } from '../validate.js';
import { sessionView } from './sessions.js';

const extendBody = z.object({ minutes: z.number().int().min(1).max(120) }).strict();

export function sessionExtraRoutes(deps: HttpDeps): Router {
  const r = Router();

  r.post('/sessions/:id/extend', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    const staff = requireStaff(principalOf(req));
    const body = parseBody(extendBody, req.body);
    const { session, addedMinutes } = await deps.sessions.extend(id, body.minutes, `staff:${staff.name}`);
    await audit(deps.store, req, staff, 'session.extended', id, { addedMinutes });
    res.json({ ...sessionView(session, true), addedMinutes });
  });

  r.get('/sessions/:id/brief', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    requireSessionAccess(principalOf(req), id);
    const session = await deps.sessions.require(id);
    const lab = deps.labs.require(session.labId);
    res.json({ lab: { id: lab.id, title: lab.title }, title: lab.title, brief: lab.brief });
  });

  return r;
}
