import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Router, type Response } from 'express';
import { z } from 'zod';
import { requireSessionAccess, requireStaff } from '../../auth/principal.js';
import { AppError } from '../../errors.js';
import { candidateView, type Report } from '../../checker/report.js';
import { SESSION_STATES, type Session } from '../../store/sessions-repo.js';
import { audit } from '../audit.js';
import { principalOf, type HttpDeps } from '../app.js';
import { SlidingWindowLimiter } from '../rate-limit.js';
import { parseBody, sessionIdParam } from '../validate.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Streams a file the server wrote itself (recording, archive), as it is at this moment. */
async function sendFile(
  res: Response,
  file: string,
  o: { type: string; name: string; inline?: boolean; missing: string },
): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
  } catch {
    throw new AppError('NOT_FOUND', o.missing);
  }
  res.setHeader('content-type', o.type);
  res.setHeader('content-length', String(stat.size));
  res.setHeader('content-disposition', `${o.inline ? 'inline' : 'attachment'}; filename="${o.name}"`);
  if (stat.size === 0) {
    res.end();
    return;
  }
  // `end` fixes the length: a recording still growing is served as it was when asked.
  await pipeline(fs.createReadStream(file, { start: 0, end: stat.size - 1 }), res);
}

/** The public shape of a session (API.md `Session`); staff also see the email and creator. */
export function sessionView(s: Session, staff: boolean) {
  return {
    id: s.id,
    lab: s.labId,
    state: s.state,
    candidate: staff ? { name: s.candidateName, email: s.candidateEmail } : { name: s.candidateName },
    durationMinutes: s.durationMinutes,
    createdAt: iso(s.createdAt),
    readyAt: iso(s.readyAt),
    expiresAt: iso(s.expiresAt),
    endedAt: iso(s.endedAt),
    error: s.error,
  };
}

export function sessionRoutes(deps: HttpDeps): Router {
  const r = Router();
  // Counts every request that gets past auth, valid or not: a runaway script is stopped
  // either way, and a person never creates 20 interviews in a minute.
  const createLimiter = new SlidingWindowLimiter(deps.config.sessions.createPerMinute, 60_000);
  const createBody = z
    .object({
      lab: z.string().min(1).max(63),
      candidate: z
        .object({
          name: z.string().trim().min(1).max(100),
          email: z.email().max(200).optional(),
        })
        .strict(),
      durationMinutes: z.number().int().min(5).max(deps.config.sessions.maxDurationMinutes).optional(),
    })
    .strict();

  r.post('/sessions', async (req, res) => {
    const staff = requireStaff(principalOf(req), ['admin', 'interviewer']);
    const wait = createLimiter.retryAfterMs(staff.userId);
    if (wait > 0) {
      res.setHeader('retry-after', String(Math.ceil(wait / 1000)));
      throw new AppError('RATE_LIMITED', `at most ${createLimiter.max} new sessions a minute per user; try again in ${Math.ceil(wait / 1000)} s`);
    }
    createLimiter.record(staff.userId);
    const body = parseBody(createBody, req.body);
    const { session, candidateToken } = await deps.sessions.create({
      labId: body.lab,
      candidateName: body.candidate.name,
      candidateEmail: body.candidate.email ?? null,
      durationMinutes: body.durationMinutes,
      createdBy: staff.userId,
    });
    await audit(deps.store, req, staff, 'session.created', session.id, { lab: session.labId, candidate: session.candidateName });
    const base = deps.config.server.publicUrl.replace(/\/$/, '');
    res.status(201).json({
      ...sessionView(session, true),
      candidateToken,
      candidateUrl: `${base}/s/${session.id}#token=${candidateToken}`,
      observeUrl: `${base}/observe/${session.id}`,
    });
  });

  r.get('/sessions', async (req, res) => {
    requireStaff(principalOf(req));
    const state = req.query.state;
    if (state !== undefined && !(typeof state === 'string' && (SESSION_STATES as readonly string[]).includes(state))) {
      throw new AppError('VALIDATION', `state: expected one of ${SESSION_STATES.join(', ')}`);
    }
    const sessions = await deps.sessions.list(state as Session['state'] | undefined);
    res.json({ sessions: sessions.map((s) => sessionView(s, true)) });
  });

  r.get('/sessions/:id', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    const p = requireSessionAccess(principalOf(req), id);
    res.json(sessionView(await deps.sessions.require(id), p.kind === 'staff'));
  });

  r.post('/sessions/:id/terminal-ticket', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    const p = requireSessionAccess(principalOf(req), id);
    const body = parseBody(z.object({ write: z.boolean().optional() }).strict(), req.body);
    const session = await deps.sessions.require(id);
    if (session.state !== 'starting' && session.state !== 'ready') {
      throw new AppError('WRONG_STATE', `the session is ${session.state}`);
    }
    const ticket = await deps.tickets.issue(id, p, { write: body.write ?? false });
    await audit(deps.store, req, p, ticket.write ? 'session.keyboard_taken' : 'session.observed', id);
    res.json({ ticket: ticket.ticket, role: ticket.role, write: ticket.write, expiresAt: ticket.expiresAt.toISOString() });
  });

  r.post('/sessions/:id/end', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    const p = requireSessionAccess(principalOf(req), id);
    const session = await deps.sessions.end(id, p.kind === 'staff' ? `staff:${p.name}` : 'candidate');
    await audit(deps.store, req, p, 'session.ended', id);
    res.json(sessionView(session, p.kind === 'staff'));
  });

  r.post('/sessions/:id/grade', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    const p = requireSessionAccess(principalOf(req), id);
    const report = await deps.sessions.grade(id, p.kind === 'staff' ? 'staff' : 'candidate');
    await audit(deps.store, req, p, 'session.graded', id, { score: report.score, maxScore: report.maxScore });
    res.json(p.kind === 'staff' ? report : candidateView(report));
  });

  r.get('/sessions/:id/report', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    const staff = requireStaff(principalOf(req));
    await deps.sessions.require(id);
    await audit(deps.store, req, staff, 'session.report_viewed', id);
    if (req.query.all === '1') {
      res.json({
        reports: (await deps.sessions.reports(id)).map((g) => ({ ...(g.report as Report), trigger: g.trigger })),
      });
      return;
    }
    const latest = await deps.sessions.latestReport(id);
    if (!latest) throw new AppError('NOT_FOUND', 'this session has not been graded yet');
    res.json({ ...(latest.report as Report), trigger: latest.trigger });
  });

  r.get('/sessions/:id/workspace', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    const staff = requireStaff(principalOf(req));
    await deps.sessions.require(id);
    await audit(deps.store, req, staff, 'session.workspace_downloaded', id);
    await sendFile(res, deps.sessions.workspaceArchivePath(id), {
      type: 'application/gzip',
      name: `${id}-workspace.tar.gz`,
      missing: 'the workspace is archived when the session ends; this one has no archive yet',
    });
  });

  r.get('/sessions/:id/recording', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    const staff = requireStaff(principalOf(req));
    await deps.sessions.require(id);
    await audit(deps.store, req, staff, 'session.recording_downloaded', id);
    await sendFile(res, deps.sessions.recordingPath(id), {
      type: 'application/x-asciicast',
      name: `${id}.cast`,
      inline: true,
      missing: 'this session has no recording yet',
    });
  });

  r.get('/sessions/:id/events', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    requireStaff(principalOf(req));
    await deps.sessions.require(id);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    const lastId = Number(req.headers['last-event-id'] ?? 0) || 0;
    const subscription = deps.sessions.subscribe(id, lastId, (event) => {
      res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
    });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(keepAlive);
      // Also when the client leaves while the stored events are still being read.
      void subscription.then((unsubscribe) => unsubscribe(), () => undefined);
    });
    await subscription;
  });

  return r;
}
