import { systemClock, type Clock } from './clock.js';
import type { SqlClient } from './sql.js';

/**
 * Who serves a session's terminal. With several replicas on one PostgreSQL, exactly one
 * holds each live session's terminal at a time; the others forward to `address`. A
 * holder renews all its leases in one statement every few seconds; a lease it stops
 * renewing (the replica died) expires, and another replica takes the session over.
 * Expiry compares against the replicas' clocks (the injected `Clock`), so replicas need
 * synchronised clocks: keep the skew far below the lease TTL.
 */
export interface Lease {
  sessionId: string;
  replicaId: string;
  /** Where the holder serves the terminal (its internal base URL), for the others to forward to. */
  address: string;
  /**
   * 1 for a new lease, +1 each time it changes hands (never on a renewal): a fencing
   * token, so a replica that paused past its expiry can tell it no longer holds it.
   */
  generation: number;
  acquiredAt: Date;
  expiresAt: Date;
}

interface LeaseRow {
  session_id: string;
  replica_id: string;
  address: string;
  generation: number;
  acquired_at: number;
  expires_at: number;
}

export class LeasesRepo {
  constructor(private readonly sql: SqlClient, private readonly now: Clock = systemClock) {}

  /**
   * Takes the session's terminal lease for `replicaId` for `ttlMs`, if it is free,
   * expired, or already this replica's (then it is extended, same generation). One
   * statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE), so of replicas racing for
   * it exactly one gets it. Returns the lease, or null when another replica holds it.
   * The session must exist (foreign key).
   */
  async acquire(sessionId: string, replicaId: string, address: string, ttlMs: number): Promise<Lease | null> {
    const now = this.now().getTime();
    const row = await this.sql.one<LeaseRow>(
      `INSERT INTO terminal_leases (session_id, replica_id, address, generation, acquired_at, expires_at)
       VALUES (?, ?, ?, 1, ?, ?)
       ON CONFLICT (session_id) DO UPDATE SET
         generation  = CASE WHEN terminal_leases.replica_id = excluded.replica_id THEN terminal_leases.generation ELSE terminal_leases.generation + 1 END,
         acquired_at = CASE WHEN terminal_leases.replica_id = excluded.replica_id THEN terminal_leases.acquired_at ELSE excluded.acquired_at END,
         replica_id  = excluded.replica_id,
         address     = excluded.address,
         expires_at  = excluded.expires_at
       WHERE terminal_leases.expires_at <= excluded.acquired_at OR terminal_leases.replica_id = excluded.replica_id
       RETURNING *`,
      [sessionId, replicaId, address, now, now + ttlMs],
    );
    return row ? toLease(row) : null;
  }

  /**
   * Extends every unexpired lease `replicaId` holds to now + `ttlMs`, in one statement
   * (the replica's heartbeat). Returns the session ids renewed: a session the replica
   * thinks it holds but that is missing here was lost (expired, maybe taken over).
   */
  async renew(replicaId: string, ttlMs: number): Promise<string[]> {
    const now = this.now().getTime();
    const rows = await this.sql.all<{ session_id: string }>(
      'UPDATE terminal_leases SET expires_at = ? WHERE replica_id = ? AND expires_at > ? RETURNING session_id',
      [now + ttlMs, replicaId, now],
    );
    return rows.map((r) => r.session_id).sort();
  }

  /** Gives the lease up, only if `replicaId` holds it. Returns whether it did. */
  async release(sessionId: string, replicaId: string): Promise<boolean> {
    return (await this.sql.run('DELETE FROM terminal_leases WHERE session_id = ? AND replica_id = ?', [sessionId, replicaId])) === 1;
  }

  /** Gives up every lease of `replicaId` (a clean shutdown). Returns how many. */
  releaseAll(replicaId: string): Promise<number> {
    return this.sql.run('DELETE FROM terminal_leases WHERE replica_id = ?', [replicaId]);
  }

  /** The session's lease as stored, expired or not (compare `expiresAt`), or null. */
  async get(sessionId: string): Promise<Lease | null> {
    const row = await this.sql.one<LeaseRow>('SELECT * FROM terminal_leases WHERE session_id = ?', [sessionId]);
    return row ? toLease(row) : null;
  }

  /** The unexpired leases `replicaId` holds, by session id. */
  async listHeldBy(replicaId: string): Promise<Lease[]> {
    const rows = await this.sql.all<LeaseRow>('SELECT * FROM terminal_leases WHERE replica_id = ? AND expires_at > ? ORDER BY session_id', [
      replicaId,
      this.now().getTime(),
    ]);
    return rows.map(toLease);
  }

  /** Every unexpired lease, whoever holds it (one query for a heartbeat's takeover pass). */
  async listUnexpired(): Promise<Lease[]> {
    const rows = await this.sql.all<LeaseRow>('SELECT * FROM terminal_leases WHERE expires_at > ? ORDER BY session_id', [this.now().getTime()]);
    return rows.map(toLease);
  }

  /** Leases that have expired (their holder stopped renewing): candidates for takeover, oldest expiry first. */
  async listExpired(): Promise<Lease[]> {
    const rows = await this.sql.all<LeaseRow>('SELECT * FROM terminal_leases WHERE expires_at <= ? ORDER BY expires_at, session_id', [
      this.now().getTime(),
    ]);
    return rows.map(toLease);
  }
}

function toLease(r: LeaseRow): Lease {
  return {
    sessionId: r.session_id,
    replicaId: r.replica_id,
    address: r.address,
    generation: r.generation,
    acquiredAt: new Date(r.acquired_at),
    expiresAt: new Date(r.expires_at),
  };
}
