/**
 * Warm pools: per lab, a few sandboxes started ahead of time with their setup done, so a
 * new session takes one and is ready at once instead of in a second (or, for a lab with
 * an MLflow server, six). A pooled sandbox serves exactly one candidate: it leaves the
 * pool when claimed and the pool starts a new one to take its place; nothing is reused.
 *
 * The pool knows nothing of sessions or engines: the session service gives it
 * `prepare` (create a sandbox under a reserved session id and run the lab's setup) and
 * `discard` (remove one). Preparing runs at most `concurrency` at a time, so a server
 * starting with big pools does not start every sandbox at once on a small machine; a
 * failed preparation is retried with a growing pause (a broken lab must not spin).
 */
import type { Logger } from 'pino';

export interface WarmSandbox {
  /** The session id this sandbox was prepared under; the claiming session takes it. */
  id: string;
  labId: string;
  /** When it became ready (ms since the epoch); implementations add what they need (the sandbox, the start commit). */
  preparedAt: number;
}

export interface WarmPoolDeps<W extends WarmSandbox> {
  /** Lab id → how many sandboxes to keep warm. */
  sizes: Record<string, number>;
  /** Builds a warm sandbox of `labId` under the session id `id` (the pool's until claimed). */
  prepare(labId: string, id: string, signal: AbortSignal): Promise<W>;
  /** A fresh session id. */
  newId(): string;
  discard(warm: W): Promise<void>;
  logger: Logger;
  /** Preparations running at once, over all labs. */
  concurrency?: number;
  /** First pause after a failed preparation; doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
}

export interface PoolStatus {
  size: number;
  warm: number;
  preparing: number;
  /** The last preparation's error, while the pool is failing to fill. */
  lastError?: string;
}

interface LabPool<W> {
  size: number;
  warm: W[];
  preparing: number;
  failures: number;
  retryTimer?: NodeJS.Timeout;
  lastError?: string;
}

export class WarmPool<W extends WarmSandbox> {
  private readonly pools = new Map<string, LabPool<W>>();
  /** Labs waiting for a preparation slot, in order; a lab appears once per missing sandbox. */
  private readonly queue: string[] = [];
  private running = 0;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  /** Ids of sandboxes being prepared (the reaper must not take them half-built). */
  private readonly preparingIds = new Set<string>();
  private readonly log: Logger;

  constructor(private readonly deps: WarmPoolDeps<W>) {
    this.log = deps.logger.child({ component: 'warm-pool' });
    for (const [labId, size] of Object.entries(deps.sizes)) {
      if (size > 0) this.pools.set(labId, { size, warm: [], preparing: 0, failures: 0 });
    }
  }

  get enabled(): boolean {
    return this.pools.size > 0;
  }

  /** Starts filling every pool. */
  start(): void {
    for (const labId of this.pools.keys()) this.refill(labId);
  }

  /**
   * Takes a warm sandbox of `labId` for a new session, or undefined when none is ready.
   * `usable` is asked about each candidate first (a sandbox can die while it waits);
   * the unusable are discarded. Either way the pool refills.
   */
  claim(labId: string, usable: (w: W) => boolean = () => true): W | undefined {
    const pool = this.pools.get(labId);
    if (!pool || this.stopped) return undefined;
    let found: W | undefined;
    while (!found && pool.warm.length > 0) {
      const next = pool.warm.shift()!;
      if (usable(next)) found = next;
      else {
        this.log.warn({ labId, id: next.id }, 'a warm sandbox died while waiting; discarding it');
        this.discard(next);
      }
    }
    this.refill(labId);
    return found;
  }

  /** Session ids reserved by the pool (warm or being prepared), which the reaper must leave alone. */
  reservedIds(): Set<string> {
    const ids = new Set<string>();
    for (const pool of this.pools.values()) for (const w of pool.warm) ids.add(w.id);
    for (const id of this.preparingIds) ids.add(id);
    return ids;
  }

  status(): Record<string, PoolStatus> {
    const out: Record<string, PoolStatus> = {};
    for (const [labId, p] of this.pools) {
      out[labId] = { size: p.size, warm: p.warm.length, preparing: p.preparing, ...(p.lastError ? { lastError: p.lastError } : {}) };
    }
    return out;
  }

  /** Stops filling, cancels preparations and removes every warm sandbox (none belongs to a candidate). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort(new Error('the warm pool is stopping'));
    this.queue.length = 0;
    const warm: W[] = [];
    for (const pool of this.pools.values()) {
      if (pool.retryTimer) clearTimeout(pool.retryTimer);
      warm.push(...pool.warm.splice(0));
    }
    await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled(warm.map((w) => this.deps.discard(w)));
  }

  /** Queues as many preparations as `labId` is short of its size. */
  private refill(labId: string): void {
    const pool = this.pools.get(labId);
    if (!pool || this.stopped || pool.retryTimer) return;
    const queued = this.queue.filter((l) => l === labId).length;
    let missing = pool.size - pool.warm.length - pool.preparing - queued;
    // After a failure, one preparation probes whether the lab works again before the rest follow.
    if (pool.failures > 0) missing = Math.min(missing, 1 - pool.preparing - queued);
    for (; missing > 0; missing--) this.queue.push(labId);
    this.pump();
  }

  private pump(): void {
    const limit = this.deps.concurrency ?? 2;
    while (!this.stopped && this.running < limit && this.queue.length > 0) {
      const labId = this.queue.shift()!;
      const pool = this.pools.get(labId)!;
      this.running++;
      pool.preparing++;
      const job = this.prepareOne(labId, pool).finally(() => {
        this.running--;
        pool.preparing--;
        this.inFlight.delete(job);
        this.refill(labId); // after a recovery, the rest of the pool follows
        this.pump();
      });
      this.inFlight.add(job);
    }
  }

  private async prepareOne(labId: string, pool: LabPool<W>): Promise<void> {
    const started = Date.now();
    const id = this.deps.newId();
    this.preparingIds.add(id);
    try {
      const warm = await this.deps.prepare(labId, id, this.abort.signal);
      if (this.stopped) {
        await this.deps.discard(warm).catch(() => undefined);
        return;
      }
      pool.warm.push(warm);
      pool.failures = 0;
      pool.lastError = undefined;
      this.log.info({ labId, id: warm.id, ms: Date.now() - started, warm: pool.warm.length }, 'warm sandbox ready');
    } catch (err) {
      if (this.stopped) return;
      pool.failures++;
      pool.lastError = err instanceof Error ? err.message : String(err);
      const base = this.deps.retryMs ?? 5_000;
      const pause = Math.min(this.deps.maxRetryMs ?? 300_000, base * 2 ** (pool.failures - 1));
      this.log.error({ err, labId, retryInMs: pause }, 'preparing a warm sandbox failed');
      // Drop this lab's queued preparations: they would fail the same way; retry later.
      for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i] === labId) this.queue.splice(i, 1);
      if (pool.retryTimer) clearTimeout(pool.retryTimer); // two failing at once: one retry
      pool.retryTimer = setTimeout(() => {
        pool.retryTimer = undefined;
        this.refill(labId);
      }, pause);
      pool.retryTimer.unref();
    } finally {
      this.preparingIds.delete(id);
    }
  }

  private discard(w: W): void {
    const job = this.deps.discard(w).catch((err: unknown) => this.log.warn({ err, id: w.id }, 'discarding a warm sandbox failed'));
    this.inFlight.add(job);
    void job.finally(() => this.inFlight.delete(job));
  }
}
