// Spending a ticket from several processes' connections to one SQLite file (the rest of
// the tickets contract is in test/store/contract.ts, run by repos.test.ts).
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addSession, addUser, testStore, type TestStore } from './fixtures.js';

let t: TestStore;
beforeEach(() => { t = testStore(); });
afterEach(() => t.close());

describe('TicketsRepo on SQLite', () => {
  it('hands a ticket to exactly one of several connections racing for it', async () => {
    const { user } = await addUser(t.store, 'alice');
    const { session } = await addSession(t.store, user.id);
    await t.store.tickets.insert({ hash: 'h1', sessionId: session.id, role: 'observer', write: false, userId: user.id, expiresAt: new Date(t.clock().getTime() + 30_000) });
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
    expect((await t.store.tickets.get('h1'))?.usedAt).not.toBeNull();
  });
});
