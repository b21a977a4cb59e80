import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Authenticator, type Principal } from '../../../server/auth/principal.js';
import { TerminalTickets, WRITE_HANDOVER_EVENT } from '../../../server/auth/tickets.js';
import { AppError, type ErrorCode } from '../../../server/errors.js';
import { addSession, addUser, testStore, type TestStore } from '../store/fixtures.js';

let t: TestStore;
let tickets: TerminalTickets;
beforeEach(() => {
  t = testStore();
  tickets = new TerminalTickets({ tickets: t.store.tickets, sessions: t.store.sessions, events: t.store.events, ttlSeconds: 30, now: t.clock });
});
afterEach(() => t.close());

function failure(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}
const code = (fn: () => unknown): ErrorCode => failure(fn).code;

function world() {
  const admin = addUser(t.store, 'root', 'admin');
  const interviewer = addUser(t.store, 'alice', 'interviewer');
  const { session, invite } = addSession(t.store, interviewer.user.id, { state: 'ready' });
  const auth = new Authenticator({ users: t.store.users, sessions: t.store.sessions, now: t.clock });
  const p = (token: string) => auth.authenticate(token) as Principal;
  return { session, candidate: p(invite), admin: p(admin.token), interviewer: p(interviewer.token), adminId: admin.user.id };
}

describe('TerminalTickets', () => {
  it('gives the candidate a writable ticket and staff a read-only one', () => {
    const w = world();
    const c = tickets.issue(w.session.id, w.candidate);
    expect(c).toMatchObject({ role: 'candidate', write: true, expiresAt: new Date(t.clock().getTime() + 30_000) });
    expect(c.ticket).toMatch(/^osl_t_/);
    expect(tickets.issue(w.session.id, w.interviewer)).toMatchObject({ role: 'observer', write: false });
    expect(tickets.issue(w.session.id, w.admin)).toMatchObject({ role: 'observer', write: false });
  });

  it('lets only an admin take a writable terminal, and records the handover', () => {
    const w = world();
    expect(code(() => tickets.issue(w.session.id, w.interviewer, { write: true }))).toBe('FORBIDDEN');
    const issued = tickets.issue(w.session.id, w.admin, { write: true });
    expect(issued).toMatchObject({ role: 'candidate', write: true });
    expect(tickets.redeem(issued.ticket, w.session.id)).toMatchObject({ role: 'candidate', write: true, userId: w.adminId });
    expect(t.store.events.list(w.session.id)).toEqual([expect.objectContaining({ type: WRITE_HANDOVER_EVENT, data: { userId: w.adminId, name: 'root' } })]);
  });

  it('refuses the wrong caller, an unknown session and a finished one', () => {
    const w = world();
    const other = addSession(t.store, w.adminId, { state: 'ready' }).session;
    expect(code(() => tickets.issue(other.id, w.candidate))).toBe('FORBIDDEN');
    expect(code(() => tickets.issue(w.session.id, null))).toBe('UNAUTHENTICATED');
    expect(code(() => tickets.issue('nope', w.admin))).toBe('NOT_FOUND');
    t.store.sessions.transition(other.id, ['ready'], 'ended');
    expect(code(() => tickets.issue(other.id, w.admin))).toBe('WRONG_STATE');
  });

  it('redeems a ticket once; the second redeem fails with TICKET_INVALID', () => {
    const w = world();
    const { ticket } = tickets.issue(w.session.id, w.candidate);
    expect(tickets.redeem(ticket, w.session.id)).toMatchObject({ sessionId: w.session.id, role: 'candidate', write: true, userId: null });
    const again = failure(() => tickets.redeem(ticket, w.session.id));
    expect(again.code).toBe('TICKET_INVALID');
    expect(again.details).toEqual({ reason: 'used' });
  });

  it('expires tickets after the TTL', () => {
    const w = world();
    const { ticket } = tickets.issue(w.session.id, w.interviewer);
    t.clock.advance(30_000);
    const e = failure(() => tickets.redeem(ticket, w.session.id));
    expect(e.code).toBe('TICKET_INVALID');
    expect(e.details).toEqual({ reason: 'expired' });
  });

  it('rejects unknown tickets and tickets of another session (which stay usable for their own)', () => {
    const w = world();
    const other = addSession(t.store, w.adminId, { state: 'ready' }).session;
    const { ticket } = tickets.issue(w.session.id, w.interviewer);
    expect(failure(() => tickets.redeem(ticket, other.id)).details).toEqual({ reason: 'other-session' });
    expect(failure(() => tickets.redeem('osl_t_made-up', w.session.id)).details).toEqual({ reason: 'unknown' });
    expect(tickets.redeem(ticket, w.session.id).role).toBe('observer');
  });

  it('stores tickets only as hashes', () => {
    const w = world();
    const { ticket } = tickets.issue(w.session.id, w.candidate);
    expect(JSON.stringify(t.store.db.prepare('SELECT * FROM terminal_tickets').all())).not.toContain(ticket);
  });
});
