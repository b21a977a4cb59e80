/**
 * Keeps this replica's terminal leases (server/store/leases-repo.ts): one replica at a
 * time serves each live session's shell; the others forward to it (forward.ts).
 *
 * Every `renewEveryMs` the keeper renews all its leases in one statement (the heartbeat),
 * lets go of sessions whose lease it lost (it paused past the expiry and another replica
 * took over), and takes over live sessions whose lease expired (their replica died) or
 * that have none (a server restarted). The TTL is several heartbeats long, so a replica
 * that misses one keeps its sessions; a dead one's sessions move within about one TTL.
 *
 * With one replica (SQLite) this is the same code path: its replica id is stable across
 * restarts (host and port), so a restarted server takes its own sessions back at once.
 */
import type { Logger } from 'pino';
import type { Lease } from '../store/leases-repo.js';
import type { RemoteHolder } from './forward.js';

export interface LeaseStore {
  acquire(sessionId: string, replicaId: string, address: string, ttlMs: number): Promise<Lease | null>;
  renew(replicaId: string, ttlMs: number): Promise<string[]>;
  release(sessionId: string, replicaId: string): Promise<boolean>;
  releaseAll(replicaId: string): Promise<number>;
  get(sessionId: string): Promise<Lease | null>;
  listUnexpired(): Promise<Lease[]>;
}

/** What the keeper asks of the session service. */
export interface LeaseHolderHooks {
  /** Ids of sessions that are live (starting or ready), per the store. */
  liveSessionIds(): Promise<string[]>;
  /** Whether one session is live, per the store. */
  isLive(sessionId: string): Promise<boolean>;
  /**
   * Serve a session whose lease this replica just took: re-attach its terminal, or fail
   * the session with the reason when its sandbox is gone. Called at most once at a time
   * per session.
   */
  adopt(sessionId: string): Promise<void>;
  /** Stop serving a session whose lease went to another replica (detach; never touch the sandbox). */
  relinquish(sessionId: string): Promise<void>;
}

export interface LeaseKeeperOptions {
  leases: LeaseStore;
  hooks: LeaseHolderHooks;
  replicaId: string;
  /** Base URL the other replicas reach this one on. */
  address: string;
  ttlMs: number;
  renewEveryMs: number;
  logger: Logger;
  now?: () => number;
}

export class LeaseKeeper {
  /** Sessions this replica serves. */
  private readonly held = new Set<string>();
  /**
   * When each session was claimed at its creation: its row may not be visible to the
   * heartbeat's query yet (the creating transaction has not committed), so for one TTL it
   * is not let go for "not live".
   */
  private readonly claimedAt = new Map<string, number>();
  /** Adoptions in flight, so a tick and an on-demand takeover never adopt twice. */
  private readonly adopting = new Map<string, Promise<boolean>>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.log = o.logger.child({ component: 'leases', replica: o.replicaId });
    this.now = o.now ?? Date.now;
  }

  get replicaId(): string {
    return this.o.replicaId;
  }

  holds(sessionId: string): boolean {
    return this.held.has(sessionId);
  }

  /**
   * Takes the lease of a session this replica is creating (or already serves). False when
   * another live replica holds it.
   */
  claim(sessionId: string): Promise<boolean> {
    return this.claimWith(this.o.leases, sessionId);
  }

  /** `claim` through `leases` (the repositories of the transaction creating the session). */
  async claimWith(leases: Pick<LeaseStore, 'acquire'>, sessionId: string): Promise<boolean> {
    const lease = await leases.acquire(sessionId, this.o.replicaId, this.o.address, this.o.ttlMs);
    if (lease) {
      this.held.add(sessionId);
      this.claimedAt.set(sessionId, this.now());
    }
    return lease !== null;
  }

  /** Lets a session go (it ended here). */
  async release(sessionId: string): Promise<void> {
    this.held.delete(sessionId);
    this.claimedAt.delete(sessionId);
    await this.o.leases.release(sessionId, this.o.replicaId);
  }

  /**
   * Where a request about `sessionId` should go: another replica holding a live lease, or
   * null to serve it here. A session with no live holder is taken over on the spot, so
   * the client that noticed first does not wait for the next heartbeat.
   */
  async remoteHolder(sessionId: string): Promise<RemoteHolder | null> {
    if (this.held.has(sessionId)) return null;
    const lease = await this.o.leases.get(sessionId);
    if (lease && lease.replicaId !== this.o.replicaId && lease.expiresAt.getTime() > this.now()) {
      return { replicaId: lease.replicaId, address: lease.address };
    }
    if (await this.o.hooks.isLive(sessionId)) await this.takeOver(sessionId);
    return null;
  }

  /** Takes over a live session if nobody live holds it; true when this replica now serves it. */
  private takeOver(sessionId: string): Promise<boolean> {
    const running = this.adopting.get(sessionId);
    if (running) return running;
    const attempt = (async () => {
      if (this.held.has(sessionId)) return true;
      const lease = await this.o.leases.acquire(sessionId, this.o.replicaId, this.o.address, this.o.ttlMs);
      if (!lease) return false;
      this.held.add(sessionId);
      this.log.info({ sessionId, generation: lease.generation }, lease.generation > 1 ? 'took over a session from another replica' : 'serving a session');
      try {
        await this.o.hooks.adopt(sessionId);
      } catch (err) {
        this.log.error({ err, sessionId }, 'adopting a session failed');
      }
      return true;
    })().finally(() => this.adopting.delete(sessionId));
    this.adopting.set(sessionId, attempt);
    return attempt;
  }

  /** One heartbeat: renew, let lost sessions go, take over orphaned ones. */
  async tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = (async () => {
      const renewed = new Set(await this.o.leases.renew(this.o.replicaId, this.o.ttlMs));
      const fresh = (id: string) => this.now() - (this.claimedAt.get(id) ?? -Infinity) < this.o.ttlMs;
      for (const id of [...this.held]) {
        if (renewed.has(id) || this.adopting.has(id) || fresh(id)) continue;
        this.held.delete(id);
        this.claimedAt.delete(id);
        this.log.warn({ sessionId: id }, 'lost the lease of a session (another replica serves it now); detaching');
        await this.o.hooks.relinquish(id).catch((err: unknown) => this.log.error({ err, sessionId: id }, 'detaching a lost session failed'));
      }
      const live = await this.o.hooks.liveSessionIds();
      const liveSet = new Set(live);
      // Sessions over (ended here, or expired by another replica): nothing left to serve.
      for (const id of [...this.held]) {
        if (!liveSet.has(id) && !this.adopting.has(id) && !fresh(id)) await this.release(id);
      }
      // One query for every replica's live leases, not one per session each heartbeat.
      const heldElsewhere = new Set(
        (await this.o.leases.listUnexpired()).filter((l) => l.replicaId !== this.o.replicaId).map((l) => l.sessionId),
      );
      for (const id of live) {
        if (!this.held.has(id) && !heldElsewhere.has(id)) await this.takeOver(id);
      }
    })().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.tick().catch((err: unknown) => this.log.error({ err }, 'lease heartbeat failed'));
    }, this.o.renewEveryMs);
    this.timer.unref();
  }

  /** Stops the heartbeat and hands every lease back, so other replicas take over at once. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking?.catch(() => undefined);
    await Promise.allSettled([...this.adopting.values()]);
    this.held.clear();
    await this.o.leases.releaseAll(this.o.replicaId);
  }
}
