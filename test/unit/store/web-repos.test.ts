import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashToken } from '../../../server/auth/tokens.js';
import { addSession, addUser, testStore, type TestStore } from './fixtures.js';

let t: TestStore;
beforeEach(() => { t = testStore(); });
afterEach(() => t.close());

describe('NotesRepo', () => {
  it('keeps one note per user per session: saving again replaces the text and moves updatedAt', () => {
    const grace = addUser(t.store, 'grace').user;
    const alan = addUser(t.store, 'alan').user;
    const { session } = addSession(t.store, grace.id);
    const other = addSession(t.store, grace.id).session;

    const first = t.store.notes.save(session.id, grace.id, 'one');
    expect(first).toMatchObject({ sessionId: session.id, userId: grace.id, author: 'grace', text: 'one' });
    expect(first.updatedAt).toEqual(first.createdAt);
    t.clock.advance(5000);
    const again = t.store.notes.save(session.id, grace.id, 'two');
    expect(again.id).toBe(first.id);
    expect(again.text).toBe('two');
    expect(again.createdAt).toEqual(first.createdAt);
    expect(again.updatedAt.getTime() - first.updatedAt.getTime()).toBe(5000);

    t.store.notes.save(session.id, alan.id, '');
    t.store.notes.save(other.id, alan.id, 'elsewhere');
    expect(t.store.notes.list(session.id).map((n) => [n.author, n.text])).toEqual([['grace', 'two'], ['alan', '']]);
    expect(t.store.notes.list(session.id, { nonEmpty: true }).map((n) => n.author)).toEqual(['grace']);
    expect(t.store.notes.get(session.id, alan.id)?.text).toBe('');
    expect(t.store.notes.get(other.id, grace.id)).toBeUndefined();
  });

  it('refuses notes for unknown sessions or users, and goes with its session', () => {
    const grace = addUser(t.store, 'grace').user;
    const { session } = addSession(t.store, grace.id);
    expect(() => t.store.notes.save('nope', grace.id, 'x')).toThrow(/FOREIGN KEY/);
    expect(() => t.store.notes.save(session.id, 'nobody', 'x')).toThrow(/FOREIGN KEY/);
    t.store.notes.save(session.id, grace.id, 'x');
    t.store.db.prepare('DELETE FROM sessions WHERE id = ?').run(session.id);
    expect(t.store.notes.list(session.id)).toEqual([]);
  });
});

describe('LoginsRepo', () => {
  it('finds the user of a live sign-in until it expires', () => {
    const { user, token } = addUser(t.store, 'grace', 'admin');
    const login = t.store.logins.create({ hash: 'h1', userId: user.id, tokenHash: hashToken(token), ttlMs: 60_000 });
    expect(login.expiresAt.getTime() - login.createdAt.getTime()).toBe(60_000);
    expect(t.store.logins.findUser('h1')).toEqual({ user, expiresAt: login.expiresAt });
    expect(t.store.logins.findUser('h2')).toBeUndefined();
    t.clock.advance(59_999);
    expect(t.store.logins.findUser('h1')).toBeDefined();
    t.clock.advance(1);
    expect(t.store.logins.findUser('h1')).toBeUndefined();
    expect(t.store.logins.purge()).toBe(1);
    expect(t.store.logins.purge()).toBe(0);
  });

  it('ends sign-ins made with a token that was rotated since', () => {
    const { user, token } = addUser(t.store, 'grace');
    t.store.logins.create({ hash: 'h1', userId: user.id, tokenHash: hashToken(token), ttlMs: 60_000 });
    t.store.users.setTokenHash(user.id, hashToken('osl_s_new'));
    expect(t.store.logins.findUser('h1')).toBeUndefined();
  });

  it('deletes one sign-in, or every one of a user', () => {
    const a = addUser(t.store, 'grace');
    const b = addUser(t.store, 'alan');
    for (const [hash, u] of [['h1', a], ['h2', a], ['h3', b]] as const) {
      t.store.logins.create({ hash, userId: u.user.id, tokenHash: hashToken(u.token), ttlMs: 60_000 });
    }
    expect(t.store.logins.delete('h1')).toBe(true);
    expect(t.store.logins.delete('h1')).toBe(false);
    expect(t.store.logins.deleteForUser(a.user.id)).toBe(1);
    expect(t.store.logins.findUser('h3')?.user.name).toBe('alan');
  });
});
