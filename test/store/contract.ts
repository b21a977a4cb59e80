/**
 * The repository contract: what every store (SQLite, PostgreSQL) must do, the same way.
 * Run by test/unit/store/repos.test.ts against SQLite and by test/store/postgres.test.ts
 * against a real PostgreSQL. Each test gets a fresh, migrated, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashToken } from '../../server/auth/tokens.js';
import type { SandboxRef } from '../../server/sandbox/driver.js';
import type { SqlClient } from '../../server/store/sql.js';
import type { Store } from '../../server/store/store.js';
import { addSession, addUser, type manualClock } from '../unit/store/fixtures.js';

export interface ContractHarness {
  store: Store;
  clock: ReturnType<typeof manualClock>;
  /** Plain SQL on the same database, for what no repository does (deleting a session). */
  raw: SqlClient;
  /** A second store on the same database, as another process or replica would open it. */
  another(): Promise<Store>;
  close(): Promise<void>;
}

const isForeignKeyError = { code: expect.stringMatching(/^(SQLITE_CONSTRAINT_FOREIGNKEY|23503)$/) as unknown };

export function defineStoreContract(kind: string, open: () => Promise<ContractHarness>): void {
  let t: ContractHarness;
  beforeEach(async () => { t = await open(); });
  afterEach(async () => { await t.close(); });

  describe(`${kind}: MetaRepo`, () => {
    it('creates the installation id once and every opener sees the same one', async () => {
      const id = await t.store.meta.installationId();
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(await t.store.meta.installationId()).toBe(id);
      const other = await t.another();
      try {
        expect(await other.meta.installationId()).toBe(id);
      } finally {
        await other.close();
      }
    });

    it('stores key/value pairs', async () => {
      expect(await t.store.meta.get('k')).toBeUndefined();
      await t.store.meta.set('k', 'v1');
      await t.store.meta.set('k', 'v2');
      expect(await t.store.meta.get('k')).toBe('v2');
    });
  });

  describe(`${kind}: UsersRepo`, () => {
    it('creates, finds by token hash, lists and counts', async () => {
      const users = t.store.users;
      expect(await users.count()).toBe(0);
      const alice = await users.create({ name: 'alice', role: 'interviewer', tokenHash: 'a'.repeat(64) });
      t.clock.advance(1000);
      const bob = await users.create({ name: 'bob', role: 'author', tokenHash: 'b'.repeat(64) });
      expect(alice).toEqual({ id: alice.id, name: 'alice', role: 'interviewer', createdAt: new Date(t.clock().getTime() - 1000) });
      expect(await users.findByTokenHash('b'.repeat(64))).toEqual(bob);
      expect(await users.findByTokenHash('c'.repeat(64))).toBeUndefined();
      expect((await users.list()).map((u) => u.name)).toEqual(['alice', 'bob']);
      expect(await users.count()).toBe(2);
      expect(await users.setTokenHash(bob.id, 'd'.repeat(64))).toBe(true);
      expect(await users.setTokenHash('nobody', 'e'.repeat(64))).toBe(false);
      expect(await users.findByTokenHash('b'.repeat(64))).toBeUndefined();
      expect((await users.findByName('bob'))?.id).toBe(bob.id);
      expect(await users.delete(bob.id)).toBe(true);
      expect(await users.get(bob.id)).toBeUndefined();
    });

    it('refuses a duplicate name or token with VALIDATION', async () => {
      await t.store.users.create({ name: 'alice', role: 'interviewer', tokenHash: 'a'.repeat(64) });
      await expect(t.store.users.create({ name: 'alice', role: 'admin', tokenHash: 'b'.repeat(64) })).rejects.toMatchObject({ code: 'VALIDATION' });
      await expect(t.store.users.create({ name: 'bob', role: 'admin', tokenHash: 'a'.repeat(64) })).rejects.toMatchObject({ code: 'VALIDATION' });
      expect(await t.store.users.count()).toBe(1);
    });
  });

  describe(`${kind}: SessionsRepo`, () => {
    const sandbox: SandboxRef = { sessionId: 'x', driver: 'docker', id: 'c0ffee' };

    it('inserts with defaults and reads back', async () => {
      const { user } = await addUser(t.store, 'alice');
      const { session } = await addSession(t.store, user.id);
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
        startCommit: null,
        termSize: { cols: 80, rows: 24 },
      });
      expect(await t.store.sessions.get(session.id)).toEqual(session);
      expect(await t.store.sessions.get('nope')).toBeUndefined();
    });

    it('enforces the creator as a foreign key', async () => {
      await expect(addSession(t.store, 'no-such-user')).rejects.toMatchObject(isForeignKeyError);
    });

    it('transitions only from the named states, atomically, with its fields', async () => {
      const sessions = t.store.sessions;
      const { user } = await addUser(t.store, 'alice');
      const { session } = await addSession(t.store, user.id);
      const readyAt = new Date(t.clock().getTime() + 5000);
      const expiresAt = new Date(readyAt.getTime() + 3_600_000);

      expect(await sessions.transition(session.id, ['starting'], 'ready', { readyAt, expiresAt, sandbox })).toMatchObject({
        state: 'ready',
        readyAt,
        expiresAt,
        sandbox,
      });

      // From a wrong state: null, and nothing changes (not even the fields).
      const before = await sessions.get(session.id);
      expect(await sessions.transition(session.id, ['starting'], 'failed', { error: 'boom', endedAt: new Date(0) })).toBeNull();
      expect(await sessions.get(session.id)).toEqual(before);

      // A compare-and-set on the expiry: only from the expiry the caller read.
      const later = new Date(expiresAt.getTime() + 60_000);
      expect(await sessions.transition(session.id, ['ready'], 'ready', { expiresAt: later }, { expiresAt: new Date(0) })).toBeNull();
      expect(await sessions.transition(session.id, ['ready'], 'ready', { expiresAt: later }, { expiresAt })).toMatchObject({ expiresAt: later });

      // Racing moves out of ready, sent together: exactly one wins.
      const [ended, expired, failed] = await Promise.all([
        sessions.transition(session.id, ['ready'], 'ended', { endedAt: t.clock(), sandbox: null }),
        sessions.transition(session.id, ['ready'], 'expired', { endedAt: t.clock() }),
        sessions.transition(session.id, ['ready'], 'failed', { endedAt: t.clock(), error: 'x' }),
      ]);
      expect([ended, expired, failed].filter((s) => s !== null)).toHaveLength(1);
      const final = await sessions.get(session.id);
      expect(['ended', 'expired', 'failed']).toContain(final?.state);

      expect(await sessions.transition('nope', ['starting'], 'ready')).toBeNull();
      expect(await sessions.transition(session.id, [], 'ready')).toBeNull();
    });

    it('lists by state, newest first, counts and lists the live ones', async () => {
      const { user } = await addUser(t.store, 'alice');
      const ids: string[] = [];
      for (const state of ['starting', 'ready', 'ended', 'failed', 'expired'] as const) {
        ids.push((await addSession(t.store, user.id, { state })).session.id);
        t.clock.advance(1000);
      }
      const sessions = t.store.sessions;
      expect((await sessions.list()).map((s) => s.id)).toEqual([...ids].reverse());
      expect((await sessions.list({ state: 'ended' })).map((s) => s.id)).toEqual([ids[2]]);
      expect((await sessions.list({ state: ['failed', 'expired'] })).map((s) => s.state)).toEqual(['expired', 'failed']);
      expect(await sessions.list({ state: [] })).toEqual([]);
      expect(await sessions.list({ limit: 2 })).toHaveLength(2);
      expect((await sessions.listLive()).map((s) => s.state)).toEqual(['ready', 'starting']);
      expect(await sessions.countLive()).toBe(2);
    });

    it('records the sandbox, the start commit, the terminal size and a new invite', async () => {
      const { user } = await addUser(t.store, 'alice');
      const { session } = await addSession(t.store, user.id);
      const sessions = t.store.sessions;
      expect((await sessions.setSandbox(session.id, { ...sandbox, sessionId: session.id }))?.sandbox).toEqual({ ...sandbox, sessionId: session.id });
      expect((await sessions.setSandbox(session.id, null))?.sandbox).toBeNull();
      expect(await sessions.setSandbox('nope', sandbox)).toBeNull();
      expect(await sessions.setStartCommit(session.id, 'abc123')).toBe(true);
      expect(await sessions.setTermSize(session.id, { cols: 132, rows: 40 })).toBe(true);
      expect(await sessions.setTermSize('nope', { cols: 1, rows: 1 })).toBe(false);
      expect(await sessions.get(session.id)).toMatchObject({ termSize: { cols: 132, rows: 40 }, startCommit: 'abc123' });
      expect(await sessions.setInviteHash(session.id, 'e'.repeat(64))).toBe(true);
      expect((await sessions.findByInviteHash('e'.repeat(64)))?.id).toBe(session.id);
    });
  });

  describe(`${kind}: EventsRepo and GradesRepo`, () => {
    it('appends events and lists them after an id, per session', async () => {
      const { user } = await addUser(t.store, 'alice');
      const a = (await addSession(t.store, user.id)).session.id;
      const b = (await addSession(t.store, user.id)).session.id;
      const e1 = await t.store.events.append(a, 'state', { state: 'ready' });
      await t.store.events.append(b, 'state', { state: 'ready' });
      t.clock.advance(10);
      const e3 = await t.store.events.append(a, 'note');
      expect(e1).toEqual({ id: e1.id, sessionId: a, at: new Date(t.clock().getTime() - 10), type: 'state', data: { state: 'ready' } });
      expect(typeof e1.id).toBe('number');
      expect((await t.store.events.list(a)).map((e) => e.id)).toEqual([e1.id, e3.id]);
      expect(await t.store.events.list(a, { afterId: e1.id })).toEqual([e3]);
      expect(e3.data).toEqual({});
      expect(await t.store.events.list(a, { limit: 1 })).toHaveLength(1);
    });

    it('keeps every grading, the latest last', async () => {
      const { user } = await addUser(t.store, 'alice');
      const { session } = await addSession(t.store, user.id);
      expect(await t.store.grades.latest(session.id)).toBeUndefined();
      const first = await t.store.grades.insert({ sessionId: session.id, trigger: 'candidate', score: 1, maxScore: 3, report: { checks: [1] } });
      const second = await t.store.grades.insert({ sessionId: session.id, trigger: 'end', score: 3, maxScore: 3, report: { checks: [1, 2, 3] } });
      expect(await t.store.grades.latest(session.id)).toEqual(second);
      expect(await t.store.grades.list(session.id)).toEqual([first, second]);
      expect(second).toMatchObject({ trigger: 'end', score: 3, maxScore: 3, report: { checks: [1, 2, 3] }, gradedAt: t.clock() });
    });
  });

  describe(`${kind}: NotesRepo and LoginsRepo`, () => {
    it('keeps one note per user per session: saving again replaces the text and moves updatedAt', async () => {
      const grace = (await addUser(t.store, 'grace')).user;
      const alan = (await addUser(t.store, 'alan')).user;
      const { session } = await addSession(t.store, grace.id);
      const other = (await addSession(t.store, grace.id)).session;
      const notes = t.store.notes;

      const first = await notes.save(session.id, grace.id, 'one');
      expect(first).toMatchObject({ sessionId: session.id, userId: grace.id, author: 'grace', text: 'one' });
      expect(first.updatedAt).toEqual(first.createdAt);
      t.clock.advance(5000);
      const again = await notes.save(session.id, grace.id, 'two');
      expect(again).toMatchObject({ id: first.id, text: 'two', createdAt: first.createdAt });
      expect(again.updatedAt.getTime() - first.updatedAt.getTime()).toBe(5000);

      await notes.save(session.id, alan.id, '');
      await notes.save(other.id, alan.id, 'elsewhere');
      expect((await notes.list(session.id)).map((n) => [n.author, n.text])).toEqual([['grace', 'two'], ['alan', '']]);
      expect((await notes.list(session.id, { nonEmpty: true })).map((n) => n.author)).toEqual(['grace']);
      expect((await notes.get(session.id, alan.id))?.text).toBe('');
      expect(await notes.get(other.id, grace.id)).toBeUndefined();
    });

    it('refuses notes for unknown sessions or users, and they go with their session', async () => {
      const grace = (await addUser(t.store, 'grace')).user;
      const { session } = await addSession(t.store, grace.id);
      await expect(t.store.notes.save('nope', grace.id, 'x')).rejects.toMatchObject(isForeignKeyError);
      await expect(t.store.notes.save(session.id, 'nobody', 'x')).rejects.toMatchObject(isForeignKeyError);
      await t.store.notes.save(session.id, grace.id, 'x');
      await t.raw.run('DELETE FROM sessions WHERE id = ?', [session.id]);
      expect(await t.store.notes.list(session.id)).toEqual([]);
    });

    it('finds the user of a live sign-in until it expires or the token is rotated', async () => {
      const { user, token } = await addUser(t.store, 'grace', 'admin');
      const logins = t.store.logins;
      const login = await logins.create({ hash: 'h1', userId: user.id, tokenHash: hashToken(token), ttlMs: 60_000 });
      expect(login.expiresAt.getTime() - login.createdAt.getTime()).toBe(60_000);
      expect(await logins.findUser('h1')).toEqual({ user, expiresAt: login.expiresAt });
      expect(await logins.findUser('h2')).toBeUndefined();
      t.clock.advance(59_999);
      expect((await logins.findUser('h1'))?.user.id).toBe(user.id);
      t.clock.advance(1);
      expect(await logins.findUser('h1')).toBeUndefined();
      expect(await logins.purge()).toBe(1);
      expect(await logins.purge()).toBe(0);

      await logins.create({ hash: 'h2', userId: user.id, tokenHash: hashToken(token), ttlMs: 60_000 });
      await logins.create({ hash: 'h3', userId: user.id, tokenHash: hashToken(token), ttlMs: 60_000 });
      expect(await logins.delete('h2')).toBe(true);
      expect(await logins.delete('h2')).toBe(false);
      await t.store.users.setTokenHash(user.id, hashToken('osl_s_new'));
      expect(await logins.findUser('h3')).toBeUndefined();
      expect(await logins.deleteForUser(user.id)).toBe(1);
    });
  });

  describe(`${kind}: AuditRepo`, () => {
    it('records staff actions and pages through them newest first, filtered', async () => {
      const actor = { id: 'u1', name: 'grace', role: 'admin' };
      const a = await t.store.audit.record({ actor, action: 'session.created', sessionId: 's1', client: '127.0.0.1', detail: { lab: 'hello' } });
      const b = await t.store.audit.record({ actor, action: 'session.observed', sessionId: 's1' });
      const c = await t.store.audit.record({ actor: { ...actor, id: 'u2' }, action: 'auth.signed_in' });
      expect(a).toMatchObject({ actor, action: 'session.created', sessionId: 's1', client: '127.0.0.1', detail: { lab: 'hello' }, at: t.clock() });
      expect((await t.store.audit.list()).map((e) => e.id)).toEqual([c.id, b.id, a.id]);
      expect((await t.store.audit.list({ sessionId: 's1', limit: 1 })).map((e) => e.id)).toEqual([b.id]);
      expect((await t.store.audit.list({ sessionId: 's1', before: b.id })).map((e) => e.id)).toEqual([a.id]);
      expect((await t.store.audit.list({ actorId: 'u2' })).map((e) => e.action)).toEqual(['auth.signed_in']);
      expect((await t.store.audit.list({ action: 'session.observed' })).map((e) => e.id)).toEqual([b.id]);
    });
  });

  describe(`${kind}: TicketsRepo`, () => {
    async function setup() {
      const { user } = await addUser(t.store, 'alice');
      const { session } = await addSession(t.store, user.id);
      const expiresAt = new Date(t.clock().getTime() + 30_000);
      const ticket = await t.store.tickets.insert({ hash: 'h1', sessionId: session.id, role: 'observer', write: false, userId: user.id, expiresAt });
      return { user, session, ticket, expiresAt };
    }

    it('spends a ticket once', async () => {
      const { session, ticket } = await setup();
      expect(ticket).toMatchObject({ hash: 'h1', sessionId: session.id, role: 'observer', write: false, usedAt: null });
      expect(await t.store.tickets.consume('h1', t.clock())).toMatchObject({ hash: 'h1', usedAt: t.clock() });
      expect(await t.store.tickets.consume('h1', t.clock())).toBeNull();
      expect(await t.store.tickets.consume('unknown', t.clock())).toBeNull();
    });

    it('does not spend an expired ticket, nor one presented for another session', async () => {
      const { session, expiresAt } = await setup();
      expect(await t.store.tickets.consume('h1', expiresAt)).toBeNull();
      expect((await t.store.tickets.get('h1'))?.usedAt).toBeNull();
      expect(await t.store.tickets.consume('h1', t.clock(), 'other')).toBeNull();
      expect(await t.store.tickets.consume('h1', new Date(expiresAt.getTime() - 1), session.id)).not.toBeNull();
    });

    it('purges tickets that expired before a time', async () => {
      const { session, expiresAt } = await setup();
      await t.store.tickets.insert({ hash: 'h2', sessionId: session.id, role: 'candidate', write: true, expiresAt: new Date(expiresAt.getTime() + 60_000) });
      expect(await t.store.tickets.purge(new Date(expiresAt.getTime() + 1))).toBe(1);
      expect(await t.store.tickets.get('h1')).toBeUndefined();
      expect((await t.store.tickets.get('h2'))?.write).toBe(true);
    });

    it('hands a ticket to exactly one of several stores spending it at once', async () => {
      await setup();
      const others = await Promise.all(Array.from({ length: 4 }, () => t.another()));
      try {
        const all = [t.store, ...others];
        const won = await Promise.all(all.flatMap((s) => [s.tickets.consume('h1', t.clock()), s.tickets.consume('h1', t.clock())]));
        expect(won.filter((w) => w !== null)).toHaveLength(1);
      } finally {
        await Promise.all(others.map((o) => o.close()));
      }
    });
  });

  describe(`${kind}: LeasesRepo`, () => {
    const TTL = 10_000;

    it('lets exactly one of two replicas racing for a lease have it', async () => {
      const { user } = await addUser(t.store, 'alice');
      const { session } = await addSession(t.store, user.id);
      const b = await t.another();
      try {
        const [gotA, gotB] = await Promise.all([
          t.store.leases.acquire(session.id, 'replica-a', 'http://a:8080', TTL),
          b.leases.acquire(session.id, 'replica-b', 'http://b:8080', TTL),
        ]);
        expect([gotA, gotB].filter((l) => l !== null)).toHaveLength(1);
        const winner = (gotA ?? gotB)!;
        expect(winner).toMatchObject({ sessionId: session.id, generation: 1, acquiredAt: t.clock(), expiresAt: new Date(t.clock().getTime() + TTL) });
        expect(await t.store.leases.get(session.id)).toEqual(winner);
      } finally {
        await b.close();
      }
    });

    it('is renewed by its holder, refused to others until it expires, then taken over', async () => {
      const { user } = await addUser(t.store, 'alice');
      const s1 = (await addSession(t.store, user.id)).session.id;
      const s2 = (await addSession(t.store, user.id)).session.id;
      const leases = t.store.leases;
      const a1 = await leases.acquire(s1, 'a', 'http://a', TTL);
      await leases.acquire(s2, 'a', 'http://a', TTL);
      expect(a1?.generation).toBe(1);

      // Acquiring again as the holder extends it, same generation.
      t.clock.advance(1000);
      expect(await leases.acquire(s1, 'a', 'http://a', TTL)).toMatchObject({ generation: 1, acquiredAt: a1!.acquiredAt, expiresAt: new Date(t.clock().getTime() + TTL) });
      expect(await leases.acquire(s1, 'b', 'http://b', TTL)).toBeNull();

      // One renewal extends every lease the replica holds.
      t.clock.advance(TTL - 2000);
      expect(await leases.renew('a', TTL)).toEqual([s1, s2].sort());
      expect((await leases.get(s1))?.expiresAt).toEqual(new Date(t.clock().getTime() + TTL));
      expect(await leases.renew('b', TTL)).toEqual([]);
      expect((await leases.listHeldBy('a')).map((l) => l.sessionId)).toEqual([s1, s2].sort());

      // Replica a stops renewing: its leases expire and b takes one over.
      t.clock.advance(TTL);
      expect((await leases.listExpired()).map((l) => l.sessionId).sort()).toEqual([s1, s2].sort());
      expect(await leases.listHeldBy('a')).toEqual([]);
      const taken = await leases.acquire(s1, 'b', 'http://b', TTL);
      expect(taken).toMatchObject({ replicaId: 'b', address: 'http://b', generation: 2, acquiredAt: t.clock() });
      // The old holder's renewal no longer finds it, nor the expired one it still "holds".
      expect(await leases.renew('a', TTL)).toEqual([]);
      expect(await leases.release(s1, 'a')).toBe(false);
      expect((await leases.get(s1))?.replicaId).toBe('b');
      expect((await leases.listExpired()).map((l) => l.sessionId)).toEqual([s2]);

      // Released: free for anyone at once.
      expect(await leases.release(s1, 'b')).toBe(true);
      expect(await leases.get(s1)).toBeNull();
      expect(await leases.acquire(s1, 'c', 'http://c', TTL)).toMatchObject({ replicaId: 'c', generation: 1 });
      expect(await leases.releaseAll('c')).toBe(1);
    });

    it('needs the session to exist, and goes with it', async () => {
      await expect(t.store.leases.acquire('no-such-session', 'a', 'http://a', TTL)).rejects.toMatchObject(isForeignKeyError);
      const { user } = await addUser(t.store, 'alice');
      const { session } = await addSession(t.store, user.id);
      await t.store.leases.acquire(session.id, 'a', 'http://a', TTL);
      await t.raw.run('DELETE FROM sessions WHERE id = ?', [session.id]);
      expect(await t.store.leases.get(session.id)).toBeNull();
    });
  });

  describe(`${kind}: transactions`, () => {
    it('commits together, or not at all when the function throws', async () => {
      const { user } = await addUser(t.store, 'alice');
      const { session } = await addSession(t.store, user.id);
      const expiresAt = new Date(t.clock().getTime() + 30_000);
      await expect(
        t.store.transaction(async (tx) => {
          await tx.tickets.insert({ hash: 'rolled-back', sessionId: session.id, role: 'candidate', write: true, expiresAt });
          await tx.events.append(session.id, 'x');
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(await t.store.tickets.get('rolled-back')).toBeUndefined();
      expect(await t.store.events.list(session.id)).toEqual([]);

      const result = await t.store.transaction(async (tx) => {
        await tx.tickets.insert({ hash: 'kept', sessionId: session.id, role: 'candidate', write: true, expiresAt });
        return (await tx.events.append(session.id, 'y')).type;
      });
      expect(result).toBe('y');
      expect(await t.store.tickets.get('kept')).toBeDefined();
      expect((await t.store.events.list(session.id)).map((e) => e.type)).toEqual(['y']);
    });

    it('keeps statements from outside the transaction out of it', async () => {
      const { user } = await addUser(t.store, 'alice');
      const { session } = await addSession(t.store, user.id);
      let outside: Promise<unknown> | undefined;
      await expect(
        t.store.transaction(async (tx) => {
          await tx.events.append(session.id, 'inside');
          // Another caller writes while the transaction is open (it may wait for it).
          outside = t.store.events.append(session.id, 'outside');
          await new Promise((r) => setTimeout(r, 20));
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      await outside;
      expect((await t.store.events.list(session.id)).map((e) => e.type)).toEqual(['outside']);
    });
  });
}
