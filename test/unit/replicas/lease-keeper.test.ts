/**
 * Two replicas' lease keepers over one real store (SQLite in memory; the leases' SQL is
 * the same on PostgreSQL, whose races the store's own suite covers), with a clock the
 * test moves: who serves a session, how a dead replica's sessions move, and how a
 * replica that paused past its lease lets go.
 */
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { LeaseKeeper, type LeaseHolderHooks } from '../../../server/replicas/lease-keeper.js';
import { openSqliteStore, type SqliteStore } from '../../../server/store/store.js';

const logger = pino({ level: 'silent' });
const TTL = 10_000;

class Replica {
  readonly adopted: string[] = [];
  readonly relinquished: string[] = [];
  readonly keeper: LeaseKeeper;

  constructor(id: string, store: SqliteStore, clock: { t: number }) {
    const hooks: LeaseHolderHooks = {
      liveSessionIds: async () => (await store.sessions.listLive()).map((s) => s.id),
      isLive: async (sessionId) => (await store.sessions.listLive()).some((s) => s.id === sessionId),
      adopt: async (sessionId) => void this.adopted.push(sessionId),
      relinquish: async (sessionId) => void this.relinquished.push(sessionId),
    };
    this.keeper = new LeaseKeeper({
      leases: store.leases,
      hooks,
      replicaId: id,
      address: `http://${id}:8080`,
      ttlMs: TTL,
      renewEveryMs: 1_000,
      logger,
      now: () => clock.t,
    });
  }
}

describe('LeaseKeeper', () => {
  let store: SqliteStore;
  const clock = { t: 0 };
  let a: Replica;
  let b: Replica;

  async function liveSession(id: string): Promise<void> {
    const admin = await store.users.create({ name: `staff-${id}`, role: 'admin', tokenHash: `hash-${id}` });
    await store.sessions.insert({ id, labId: 'hello', candidateName: 'Ada', durationMinutes: 15, inviteHash: `invite-${id}`, createdBy: admin.id, state: 'ready' });
  }

  beforeEach(async () => {
    clock.t = Date.UTC(2026, 11, 4, 12);
    store = openSqliteStore(':memory:', { now: () => new Date(clock.t) });
    a = new Replica('a', store, clock);
    b = new Replica('b', store, clock);
  });

  it('lets one replica serve a session; the other forwards to it', async () => {
    await liveSession('s1');
    expect(await a.keeper.claim('s1')).toBe(true);
    expect(await b.keeper.claim('s1')).toBe(false);
    expect(await a.keeper.remoteHolder('s1')).toBeNull();
    expect(await b.keeper.remoteHolder('s1')).toEqual({ replicaId: 'a', address: 'http://a:8080' });
    await b.keeper.tick();
    expect(b.adopted).toEqual([]);
  });

  it("takes over a dead replica's sessions once its lease runs out, not before", async () => {
    await liveSession('s1');
    await a.keeper.claim('s1');
    // a dies: no more heartbeats.
    clock.t += TTL - 1;
    await b.keeper.tick();
    expect(b.adopted).toEqual([]);
    clock.t += 2;
    await b.keeper.tick();
    expect(b.adopted).toEqual(['s1']);
    expect(await b.keeper.remoteHolder('s1')).toBeNull();
    expect((await store.leases.get('s1'))?.replicaId).toBe('b');
  });

  it('keeps its sessions while it heartbeats', async () => {
    await liveSession('s1');
    await a.keeper.claim('s1');
    for (let i = 0; i < 5; i++) {
      clock.t += TTL / 2;
      await a.keeper.tick();
      await b.keeper.tick();
    }
    expect(b.adopted).toEqual([]);
    expect(a.relinquished).toEqual([]);
  });

  it('lets go of a session taken over while it was paused, without touching it again', async () => {
    await liveSession('s1');
    await a.keeper.claim('s1');
    clock.t += TTL + 1; // a paused (a long GC, a frozen VM) past its lease
    await b.keeper.tick();
    expect(b.adopted).toEqual(['s1']);
    await a.keeper.tick(); // a wakes up
    expect(a.relinquished).toEqual(['s1']);
    expect(await a.keeper.remoteHolder('s1')).toEqual({ replicaId: 'b', address: 'http://b:8080' });
  });

  it('takes over on demand when a request finds no live holder', async () => {
    await liveSession('s1');
    await a.keeper.claim('s1');
    clock.t += TTL + 1;
    expect(await b.keeper.remoteHolder('s1')).toBeNull();
    expect(b.adopted).toEqual(['s1']);
  });

  it('adopts sessions with no lease at all (a restarted single server), once', async () => {
    await liveSession('s1');
    await liveSession('s2');
    await Promise.all([a.keeper.tick(), a.keeper.tick(), a.keeper.remoteHolder('s1')]);
    expect(a.adopted.sort()).toEqual(['s1', 's2']);
  });

  it('hands its leases back on a clean stop, so another replica takes over at once', async () => {
    await liveSession('s1');
    await a.keeper.claim('s1');
    await a.keeper.stop();
    await b.keeper.tick();
    expect(b.adopted).toEqual(['s1']);
  });

  it('leaves ended sessions alone', async () => {
    await liveSession('s1');
    await store.sessions.transition('s1', ['ready'], 'ended', { endedAt: new Date(clock.t) });
    await b.keeper.tick();
    expect(b.adopted).toEqual([]);
    expect(await b.keeper.remoteHolder('s1')).toBeNull();
    expect(b.adopted).toEqual([]);
  });
});
