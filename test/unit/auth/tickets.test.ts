import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Authenticator, type Principal } from '../../../server/auth/principal.js';
import { TerminalTickets, WRITE_HANDOVER_EVENT } from '../../../server/auth/tickets.js';
import { AppError, type ErrorCode } from '../../../server/errors.js';
import { addSession, addUser, testStore, type TestStore } from '../store/fixtures.js';

let t: TestStore;
let tickets: TerminalTickets;
beforeEach(() => {
  t = testStore();
  tickets = new TerminalTickets({ store: t.store, ttlSeconds: 30, now: t.clock });
});
afterEach(() => t.close());

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}
const code = async (promise: Promise<unknown>): Promise<ErrorCode> => (await failure(promise)).code;

async function world() {
  const admin = await addUser(t.store, 'root', 'admin');
  const interviewer = await addUser(t.store, 'alice', 'interviewer');
  const { session, invite } = await addSession(t.store, interviewer.user.id, { state: 'ready' });
  const auth = new Authenticator({ users: t.store.users, sessions: t.store.sessions, now: t.clock });
  const p = async (token: string) => (await auth.authenticate(token)) as Principal;
  return { session, candidate: await p(invite), admin: await p(admin.token), interviewer: await p(interviewer.token), adminId: admin.user.id };
}

describe('TerminalTickets', () => {
  it('gives the candidate a writable ticket and staff a read-only one', async () => {
    const w = await world();
    const c = await tickets.issue(w.session.id, w.candidate);
    expect(c).toMatchObject({ role: 'candidate', write: true, expiresAt: new Date(t.clock().getTime() + 30_000) });
    expect(c.ticket).toMatch(/^osl_t_/);
    expect(await tickets.issue(w.session.id, w.interviewer)).toMatchObject({ role: 'observer', write: false });
    expect(await tickets.issue(w.session.id, w.admin)).toMatchObject({ role: 'observer', write: false });
  });

  it('lets only an admin take a writable terminal, and records the handover', async () => {
    const w = await world();
    expect(await code(tickets.issue(w.session.id, w.interviewer, { write: true }))).toBe('FORBIDDEN');
    const issued = await tickets.issue(w.session.id, w.admin, { write: true });
    expect(issued).toMatchObject({ role: 'candidate', write: true });
    expect(await tickets.redeem(issued.ticket, w.session.id)).toMatchObject({ role: 'candidate', write: true, userId: w.adminId });
    expect(await t.store.events.list(w.session.id)).toEqual([expect.objectContaining({ type: WRITE_HANDOVER_EVENT, data: { userId: w.adminId, name: 'root' } })]);
  });

  it('refuses the wrong caller, an unknown session and a finished one', async () => {
    const w = await world();
    const other = (await addSession(t.store, w.adminId, { state: 'ready' })).session;
    expect(await code(tickets.issue(other.id, w.candidate))).toBe('FORBIDDEN');
    expect(await code(tickets.issue(w.session.id, null))).toBe('UNAUTHENTICATED');
    expect(await code(tickets.issue('nope', w.admin))).toBe('NOT_FOUND');
    await t.store.sessions.transition(other.id, ['ready'], 'ended');
    expect(await code(tickets.issue(other.id, w.admin))).toBe('WRONG_STATE');
  });

  it('redeems a ticket once; the second redeem fails with TICKET_INVALID', async () => {
    const w = await world();
    const { ticket } = await tickets.issue(w.session.id, w.candidate);
    expect(await tickets.redeem(ticket, w.session.id)).toMatchObject({ sessionId: w.session.id, role: 'candidate', write: true, userId: null });
    const again = await failure(tickets.redeem(ticket, w.session.id));
    expect(again.code).toBe('TICKET_INVALID');
    expect(again.details).toEqual({ reason: 'used' });
  });

  it('expires tickets after the TTL', async () => {
    const w = await world();
    const { ticket } = await tickets.issue(w.session.id, w.interviewer);
    t.clock.advance(30_000);
    const e = await failure(tickets.redeem(ticket, w.session.id));
    expect(e.code).toBe('TICKET_INVALID');
    expect(e.details).toEqual({ reason: 'expired' });
  });

  it('rejects unknown tickets and tickets of another session (which stay usable for their own)', async () => {
    const w = await world();
    const other = (await addSession(t.store, w.adminId, { state: 'ready' })).session;
    const { ticket } = await tickets.issue(w.session.id, w.interviewer);
    expect((await failure(tickets.redeem(ticket, other.id))).details).toEqual({ reason: 'other-session' });
    expect((await failure(tickets.redeem('osl_t_made-up', w.session.id))).details).toEqual({ reason: 'unknown' });
    expect((await tickets.redeem(ticket, w.session.id)).role).toBe('observer');
  });

  it('stores tickets only as hashes', async () => {
    const w = await world();
    const { ticket } = await tickets.issue(w.session.id, w.candidate);
    expect(JSON.stringify(t.store.db.prepare('SELECT * FROM terminal_tickets').all())).not.toContain(ticket);
  });
});
