import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Authenticator, requireSessionAccess, requireStaff, type Principal } from '../../../server/auth/principal.js';
import { generateToken } from '../../../server/auth/tokens.js';
import { AppError, type ErrorCode } from '../../../server/errors.js';
import { addSession, addUser, testStore, type TestStore } from '../store/fixtures.js';

let t: TestStore;
let auth: Authenticator;
beforeEach(() => {
  t = testStore();
  auth = new Authenticator({ users: t.store.users, sessions: t.store.sessions, now: t.clock });
});
afterEach(() => t.close());

function code(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
  return undefined;
}

describe('Authenticator', () => {
  it('knows staff by token and nobody else', async () => {
    const { user, token } = await addUser(t.store, 'alice', 'interviewer');
    expect(await auth.authenticate(token)).toEqual({ kind: 'staff', userId: user.id, name: 'alice', role: 'interviewer' });
    expect(await auth.authenticate(generateToken('staff'))).toBeNull();
    expect(await auth.authenticate('')).toBeNull();
    expect(await auth.authenticate(undefined)).toBeNull();
    expect(await auth.authenticate('x'.repeat(10_000))).toBeNull();
  });

  it('knows a candidate by invite while the session is starting or ready, and not once it ended', async () => {
    const { user } = await addUser(t.store, 'alice');
    const { session, invite } = await addSession(t.store, user.id);
    expect(await auth.authenticate(invite)).toEqual({ kind: 'candidate', sessionId: session.id });
    await t.store.sessions.transition(session.id, ['starting'], 'ready', { readyAt: t.clock() });
    expect(await auth.authenticate(invite)).toEqual({ kind: 'candidate', sessionId: session.id });
    await t.store.sessions.transition(session.id, ['ready'], 'ended', { endedAt: t.clock() });
    expect(await auth.authenticate(invite)).toBeNull();
  });

  it('stops accepting an invite once the session is past its expiry, before the reaper marks it', async () => {
    const { user } = await addUser(t.store, 'alice');
    const { invite } = await addSession(t.store, user.id, { state: 'ready', expiresAt: new Date(t.clock().getTime() + 60_000) });
    expect(await auth.authenticate(invite)).not.toBeNull();
    t.clock.advance(60_000);
    expect(await auth.authenticate(invite)).toBeNull();
  });

  it('stores invites only as hashes', async () => {
    const { user } = await addUser(t.store, 'alice');
    const { invite } = await addSession(t.store, user.id);
    expect(JSON.stringify(t.store.db.prepare('SELECT * FROM sessions').all())).not.toContain(invite);
  });
});

describe('requireStaff and requireSessionAccess', () => {
  const admin: Principal = { kind: 'staff', userId: 'u1', name: 'root', role: 'admin' };
  const author: Principal = { kind: 'staff', userId: 'u2', name: 'writer', role: 'author' };
  const candidate: Principal = { kind: 'candidate', sessionId: 's1' };

  it('requireStaff', () => {
    expect(code(() => requireStaff(null))).toBe('UNAUTHENTICATED');
    expect(code(() => requireStaff(candidate))).toBe('FORBIDDEN');
    expect(code(() => requireStaff(author, ['admin', 'interviewer']))).toBe('FORBIDDEN');
    expect(requireStaff(admin, ['admin'])).toBe(admin);
    expect(requireStaff(author)).toBe(author);
  });

  it('requireSessionAccess', () => {
    expect(code(() => requireSessionAccess(undefined, 's1'))).toBe('UNAUTHENTICATED');
    expect(code(() => requireSessionAccess(candidate, 's2'))).toBe('FORBIDDEN');
    expect(requireSessionAccess(candidate, 's1')).toBe(candidate);
    expect(requireSessionAccess(author, 's2')).toBe(author);
  });
});
