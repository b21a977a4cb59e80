import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../server/errors.js';
import type { SandboxRef } from '../../../server/sandbox/driver.js';
import { openStore } from '../../../server/store/store.js';
import { addSession, addUser, testStore, type TestStore } from './fixtures.js';

let t: TestStore;
beforeEach(() => { t = testStore(); });
afterEach(() => t.close());

describe('MetaRepo', () => {
  it('creates the installation id once and returns it forever, across reopen', () => {
    const id = t.store.meta.installationId();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(t.store.meta.installationId()).toBe(id);
    t.store.close();
    const reopened = openStore(t.file);
    expect(reopened.meta.installationId()).toBe(id);
    t.store = reopened;
  });

  it('stores key/value pairs', () => {
    expect(t.store.meta.get('k')).toBeUndefined();
    t.store.meta.set('k', 'v1');
    t.store.meta.set('k', 'v2');
    expect(t.store.meta.get('k')).toBe('v2');
  });
});

describe('UsersRepo', () => {
  it('creates, finds by token hash, lists and counts', () => {
    expect(t.store.users.count()).toBe(0);
    const alice = t.store.users.create({ name: 'alice', role: 'interviewer', tokenHash: 'a'.repeat(64) });
    t.clock.advance(1000);
    const bob = t.store.users.create({ name: 'bob', role: 'author', tokenHash: 'b'.repeat(64) });
    expect(alice).toEqual({ id: alice.id, name: 'alice', role: 'interviewer', createdAt: new Date(t.clock().getTime() - 1000) });
    expect(t.store.users.findByTokenHash('b'.repeat(64))).toEqual(bob);
    expect(t.store.users.findByTokenHash('c'.repeat(64))).toBeUndefined();
    expect(t.store.users.list().map((u) => u.name)).toEqual(['alice', 'bob']);
    expect(t.store.users.count()).toBe(2);
    expect(t.store.users.setTokenHash(bob.id, 'd'.repeat(64))).toBe(true);
    expect(t.store.users.findByTokenHash('b'.repeat(64))).toBeUndefined();
    expect(t.store.users.findByName('bob')?.id).toBe(bob.id);
  });

  it('refuses a duplicate name with VALIDATION', () => {
    t.store.users.create({ name: 'alice', role: 'interviewer', tokenHash: 'a'.repeat(64) });
    expect(() => t.store.users.create({ name: 'alice', role: 'admin', tokenHash: 'b'.repeat(64) })).toThrowError(
      expect.objectContaining({ code: 'VALIDATION' }) as AppError,
    );
  });
});

describe('SessionsRepo', () => {
  const sandbox: SandboxRef = { sessionId: 'x', driver: 'docker', id: 'c0ffee' };

  it('inserts with defaults and reads back', () => {
    const { user } = addUser(t.store, 'alice');
    const { session } = addSession(t.store, user.id);
    expect(session).toMatchObject({
      labId: 'hello',
      state: 'starting',
      candidateName: 'Ada',
      candidateEmail: 'ada@example.com',
      durationMinutes: 60,
      createdAt: t.clock(),
      readyAt: null,
      expiresAt: null,
      endedAt: null,
      error: null,
      createdBy: user.id,
      sandbox: null,
      termSize: { cols: 80, rows: 24 },
    });
    expect(t.store.sessions.get(session.id)).toEqual(session);
    expect(t.store.sessions.get('nope')).toBeUndefined();
  });

  it('enforces the creator as a foreign key', () => {
    expect(() => addSession(t.store, 'no-such-user')).toThrow(/FOREIGN KEY/);
  });

  it('transitions only from the named states, atomically, with its fields', () => {
    const { user } = addUser(t.store, 'alice');
    const { session } = addSession(t.store, user.id);
    const readyAt = new Date(t.clock().getTime() + 5000);
    const expiresAt = new Date(readyAt.getTime() + 3_600_000);

    const ready = t.store.sessions.transition(session.id, ['starting'], 'ready', { readyAt, expiresAt, sandbox });
    expect(ready).toMatchObject({ state: 'ready', readyAt, expiresAt, sandbox });

    // From a wrong state: null, and nothing changes (not even the fields).
    const before = t.store.sessions.get(session.id);
    expect(t.store.sessions.transition(session.id, ['starting'], 'failed', { error: 'boom', endedAt: new Date(0) })).toBeNull();
    expect(t.store.sessions.get(session.id)).toEqual(before);

    // Two racing moves out of ready: exactly one wins.
    const ended = t.store.sessions.transition(session.id, ['ready'], 'ended', { endedAt: t.clock(), sandbox: null });
    const expired = t.store.sessions.transition(session.id, ['ready'], 'expired', { endedAt: t.clock() });
    expect(ended).toMatchObject({ state: 'ended', sandbox: null, endedAt: t.clock() });
    expect(expired).toBeNull();
    expect(t.store.sessions.get(session.id)?.state).toBe('ended');

    expect(t.store.sessions.transition('nope', ['starting'], 'ready')).toBeNull();
    expect(t.store.sessions.transition(session.id, [], 'ready')).toBeNull();
  });

  it('lists by state, newest first, and the live ones', () => {
    const { user } = addUser(t.store, 'alice');
    const ids: string[] = [];
    for (const state of ['starting', 'ready', 'ended', 'failed', 'expired'] as const) {
      ids.push(addSession(t.store, user.id, { state }).session.id);
      t.clock.advance(1000);
    }
    expect(t.store.sessions.list().map((s) => s.id)).toEqual([...ids].reverse());
    expect(t.store.sessions.list({ state: 'ended' }).map((s) => s.id)).toEqual([ids[2]]);
    expect(t.store.sessions.list({ state: ['failed', 'expired'] }).map((s) => s.state)).toEqual(['expired', 'failed']);
    expect(t.store.sessions.list({ limit: 2 })).toHaveLength(2);
    expect(t.store.sessions.listLive().map((s) => s.state)).toEqual(['ready', 'starting']);
  });

  it('records the sandbox, the terminal size and a new invite', () => {
    const { user } = addUser(t.store, 'alice');
    const { session } = addSession(t.store, user.id);
    expect(t.store.sessions.setSandbox(session.id, { ...sandbox, sessionId: session.id })?.sandbox).toEqual({ ...sandbox, sessionId: session.id });
    expect(t.store.sessions.setSandbox(session.id, null)?.sandbox).toBeNull();
    expect(t.store.sessions.setSandbox('nope', sandbox)).toBeNull();
    expect(t.store.sessions.setTermSize(session.id, { cols: 132, rows: 40 })).toBe(true);
    expect(t.store.sessions.get(session.id)?.termSize).toEqual({ cols: 132, rows: 40 });
    expect(t.store.sessions.setInviteHash(session.id, 'e'.repeat(64))).toBe(true);
    expect(t.store.sessions.findByInviteHash('e'.repeat(64))?.id).toBe(session.id);
  });
});

describe('EventsRepo', () => {
  it('appends and lists after an id, per session', () => {
    const { user } = addUser(t.store, 'alice');
    const a = addSession(t.store, user.id).session.id;
    const b = addSession(t.store, user.id).session.id;
    const e1 = t.store.events.append(a, 'state', { state: 'ready' });
    t.store.events.append(b, 'state', { state: 'ready' });
    t.clock.advance(10);
    const e3 = t.store.events.append(a, 'note');
    expect(e1).toEqual({ id: e1.id, sessionId: a, at: new Date(t.clock().getTime() - 10), type: 'state', data: { state: 'ready' } });
    expect(t.store.events.list(a).map((e) => e.id)).toEqual([e1.id, e3.id]);
    expect(t.store.events.list(a, { afterId: e1.id })).toEqual([e3]);
    expect(e3.data).toEqual({});
    expect(t.store.events.list(a, { limit: 1 })).toHaveLength(1);
  });
});
