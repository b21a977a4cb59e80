/**
 * Interviewers' private notes on a session: one note per staff user per session, saved
 * as they type (the page PUTs debounced), last write wins. Every staff user may read all
 * of a session's notes (they appear in the report); candidates never see them.
 *
 * No SSE event is emitted per save: saves come every second or so while someone types,
 * and every event is stored and replayed to each new events client.
 */
import express, { Router } from 'express';
import { z } from 'zod';
import { requireStaff, type StaffPrincipal } from '../../auth/principal.js';
import type { Note } from '../../store/notes-repo.js';
import { principalOf, type HttpDeps } from '../app.js';
import { parseBody, sessionIdParam } from '../validate.js';

/** Longest note, in UTF-8 bytes. */
export const NOTE_MAX_BYTES = 64 * 1024;
/** The note's JSON body may be larger than the text (escapes): room for 64 KiB of anything. */
const NOTE_BODY_LIMIT = '512kb';

const noteBody = z
  .object({
    text: z.string().refine((t) => Buffer.byteLength(t, 'utf8') <= NOTE_MAX_BYTES, `at most ${NOTE_MAX_BYTES} bytes (64 KiB)`),
  })
  .strict();

export function noteView(n: Note, viewer: StaffPrincipal) {
  return {
    id: n.id,
    author: n.author,
    authorId: n.userId,
    mine: n.userId === viewer.userId,
    text: n.text,
    createdAt: n.createdAt.toISOString(),
    updatedAt: n.updatedAt.toISOString(),
  };
}

/**
 * Mounted before the app's JSON parser (whose 64 kB limit a full note plus its escapes
 * can pass), with a body parser of its own for the PUT.
 */
export function notesRoutes(deps: HttpDeps): Router {
  const r = Router();
  const json = express.json({ limit: NOTE_BODY_LIMIT, strict: true, type: ['application/json', 'application/*+json'] });

  r.get('/sessions/:id/notes', async (req, res) => {
    const id = sessionIdParam(req.params.id);
    const staff = requireStaff(principalOf(req));
    await deps.sessions.require(id);
    res.setHeader('cache-control', 'no-store');
    res.json({ notes: (await deps.store.notes.list(id, { nonEmpty: true })).map((n) => noteView(n, staff)) });
  });

  // Who and which session are checked before a large body is read.
  const guard: express.RequestHandler = (req, _res, next) => {
    sessionIdParam(req.params.id);
    requireStaff(principalOf(req));
    next();
  };

  r.put('/sessions/:id/notes', guard, json, async (req, res) => {
    const id = sessionIdParam(req.params.id);
    const staff = requireStaff(principalOf(req));
    await deps.sessions.require(id);
    const body = parseBody(noteBody, req.body);
    res.json(noteView(await deps.store.notes.save(id, staff.userId, body.text), staff));
  });

  return r;
}
