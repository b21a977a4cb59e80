import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WarmPool, type WarmSandbox } from '../../../server/sessions/pool.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check(); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A pool over fake sandboxes: `prepare` takes `prepareMs` and can be told to fail. */
function fakePool(sizes: Record<string, number>, options: { prepareMs?: number; concurrency?: number; retryMs?: number } = {}) {
  let next = 0;
  const prepared: string[] = [];
  const discarded: string[] = [];
  let running = 0;
  let maxRunning = 0;
  let failWith: string | null = null;
  let prepareCalls = 0;
  const pool = new WarmPool<WarmSandbox>({
    sizes,
    logger: pino({ level: 'silent' }),
    concurrency: options.concurrency,
    retryMs: options.retryMs ?? 20,
    maxRetryMs: 80,
    newId: () => `s${++next}`,
    prepare: async (labId, id, signal) => {
      prepareCalls++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        await sleep(options.prepareMs ?? 10);
        signal.throwIfAborted();
        if (failWith) throw new Error(failWith);
        prepared.push(id);
        return { id, labId, preparedAt: Date.now() };
      } finally {
        running--;
      }
    },
    discard: (w) => {
      discarded.push(w.id);
      return Promise.resolve();
    },
  });
  return {
    pool,
    prepared,
    discarded,
    get maxRunning() {
      return maxRunning;
    },
    get prepareCalls() {
      return prepareCalls;
    },
    fail(message: string | null) {
      failWith = message;
    },
  };
}

describe('WarmPool', () => {
  const pools: WarmPool<WarmSandbox>[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.stop();
  });
  const track = <T extends { pool: WarmPool<WarmSandbox> }>(f: T) => {
    pools.push(f.pool);
    return f;
  };

  it('fills each lab to its size, preparing at most `concurrency` at once', async () => {
    const f = track(fakePool({ hello: 3, other: 2, none: 0 }, { concurrency: 2 }));
    expect(f.pool.enabled).toBe(true);
    f.pool.start();
    await until(() => f.pool.status().hello?.warm === 3 && f.pool.status().other?.warm === 2, 'both pools full');
    expect(f.maxRunning).toBe(2);
    expect(f.pool.status()).toEqual({ hello: { size: 3, warm: 3, preparing: 0 }, other: { size: 2, warm: 2, preparing: 0 } });
    await sleep(50);
    expect(f.prepared).toHaveLength(5); // full pools prepare nothing more
  });

  it('hands each sandbox to one claim only, and refills after every claim', async () => {
    const f = track(fakePool({ hello: 2 }));
    f.pool.start();
    await until(() => f.pool.status().hello?.warm === 2, 'pool full');
    const claimed = [f.pool.claim('hello'), f.pool.claim('hello'), f.pool.claim('hello')];
    expect(claimed[0]).toBeDefined();
    expect(claimed[1]).toBeDefined();
    expect(claimed[2], 'an empty pool gives nothing; the session starts cold').toBeUndefined();
    expect(claimed[0]!.id).not.toBe(claimed[1]!.id);
    await until(() => f.pool.status().hello?.warm === 2, 'pool refilled');
    const again = [f.pool.claim('hello')!.id, f.pool.claim('hello')!.id];
    const all = [claimed[0]!.id, claimed[1]!.id, ...again];
    expect(new Set(all).size).toBe(4); // never reused
    expect(f.pool.claim('no-such-lab')).toBeUndefined();
  });

  it('discards a warm sandbox that is no longer usable and gives the next one', async () => {
    const f = track(fakePool({ hello: 2 }));
    f.pool.start();
    await until(() => f.pool.status().hello?.warm === 2, 'pool full');
    const [dead, alive] = f.prepared;
    const got = f.pool.claim('hello', (w) => w.id !== dead);
    expect(got?.id).toBe(alive);
    await until(() => f.discarded.includes(dead!), 'the dead one discarded');
  });

  it('keeps the ids of warm and preparing sandboxes reserved from the reaper', async () => {
    const f = track(fakePool({ hello: 2 }, { prepareMs: 100 }));
    f.pool.start();
    await sleep(20);
    expect(f.pool.reservedIds().size).toBe(2); // being prepared
    await until(() => f.pool.status().hello?.warm === 2, 'pool full');
    expect([...f.pool.reservedIds()].sort()).toEqual([...f.prepared].sort());
    const claimed = f.pool.claim('hello')!;
    expect(f.pool.reservedIds().has(claimed.id)).toBe(false); // the session owns it now
  });

  it('retries a failing lab with growing pauses, says why in its status, and recovers', async () => {
    const f = track(fakePool({ broken: 2 }, { retryMs: 20 }));
    f.fail('image missing');
    f.pool.start();
    await sleep(300);
    // 2 at first, then one per pause (20, 40, 80, 80 ms...): a handful, not a spin.
    expect(f.prepareCalls).toBeGreaterThanOrEqual(2);
    expect(f.prepareCalls).toBeLessThan(12);
    expect(f.pool.status().broken).toMatchObject({ warm: 0, lastError: 'image missing' });
    f.fail(null);
    await until(() => f.pool.status().broken?.warm === 2, 'recovered', 2000);
    expect(f.pool.status().broken?.lastError).toBeUndefined();
  });

  it('stop() cancels preparations, removes every warm sandbox and hands out nothing more', async () => {
    const f = track(fakePool({ hello: 3 }, { prepareMs: 40, concurrency: 1 }));
    f.pool.start();
    await until(() => f.pool.status().hello?.warm === 1, 'one warm');
    await f.pool.stop();
    expect(f.discarded).toEqual(f.prepared); // all that were made are gone
    expect(f.pool.claim('hello')).toBeUndefined();
    const calls = f.prepareCalls;
    await sleep(100);
    expect(f.prepareCalls).toBe(calls);
  });
});
