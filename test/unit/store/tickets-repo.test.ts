import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addSession, addUser, testStore, type TestStore } from './fixtures.js';

let t: TestStore;
beforeEach(() => { t = testStore(); });
afterEach(() => t.close());

function setup() {
  const { user } = addUser(t.store, 'alice');
  const { session } = addSession(t.store, user.id);
  const expiresAt = new Date(t.clock().getTime() + 30_000);
  const ticket = t.store.tickets.insert({ hash: 'h1', sessionId: session.id, role: 'observer', write: false, userId: user.id, expiresAt });
  return { user, session, ticket, expiresAt };
}

describe('TicketsRepo', () => {
  it('consumes a ticket once', () => {
    const { session, ticket } = setup();
    expect(ticket).toMatchObject({ hash: 'h1', sessionId: session.id, role: 'observer', write: false, usedAt: null });
    const used = t.store.tickets.consume('h1', t.clock());
    expect(used).toMatchObject({ hash: 'h1', usedAt: t.clock() });
    expect(t.store.tickets.consume('h1', t.clock())).toBeNull();
    expect(t.store.tickets.consume('unknown', t.clock())).toBeNull();
  });

  it('does not consume an expired ticket', () => {
    const { expiresAt } = setup();
    expect(t.store.tickets.consume('h1', expiresAt)).toBeNull();
    expect(t.store.tickets.get('h1')?.usedAt).toBeNull();
    expect(t.store.tickets.consume('h1', new Date(expiresAt.getTime() - 1))).not.toBeNull();
  });

  it('leaves a ticket presented for another session unused', () => {
    const { session } = setup();
    expect(t.store.tickets.consume('h1', t.clock(), 'other')).toBeNull();
    expect(t.store.tickets.consume('h1', t.clock(), session.id)).not.toBeNull();
  });

  it('purges tickets that expired before a time', () => {
    const { session, expiresAt } = setup();
    t.store.tickets.insert({ hash: 'h2', sessionId: session.id, role: 'candidate', write: true, expiresAt: new Date(expiresAt.getTime() + 60_000) });
    expect(t.store.tickets.purge(new Date(expiresAt.getTime() + 1))).toBe(1);
    expect(t.store.tickets.get('h1')).toBeUndefined();
    expect(t.store.tickets.get('h2')?.write).toBe(true);
  });

  it('hands a ticket to exactly one of several connections racing for it', async () => {
    setup();
    const workers = 6;
    const flag = new SharedArrayBuffer(8);
    const go = new Int32Array(flag);
    const url = new URL('./consume-worker.ts', import.meta.url).href;
    const results = Array.from({ length: workers }, () => {
      const w = new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`, {
        eval: true,
        workerData: { file: t.file, hash: 'h1', now: t.clock().getTime(), flag },
      });
      return new Promise<boolean>((resolve, reject) => {
        w.once('message', (m: boolean) => resolve(m));
        w.once('error', reject);
      });
    });
    // Release them together once all have opened their connection.
    while (Atomics.load(go, 1) < workers) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    const won = await Promise.all(results);
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(t.store.tickets.get('h1')?.usedAt).not.toBeNull();
  });
});
