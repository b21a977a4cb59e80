import { systemClock, type Clock } from './clock.js';
import type { Db } from './db.js';

export type TicketRole = 'candidate' | 'observer';

/** A terminal ticket as stored: single use, short-lived, keyed by the ticket's hash. */
export interface TicketRecord {
  hash: string;
  sessionId: string;
  role: TicketRole;
  write: boolean;
  /** The staff user it was issued to; null for the candidate. */
  userId: string | null;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

export interface NewTicket {
  hash: string;
  sessionId: string;
  role: TicketRole;
  write: boolean;
  userId?: string | null;
  expiresAt: Date;
}

interface TicketRow {
  hash: string;
  session_id: string;
  role: TicketRole;
  writable: number;
  user_id: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export class TicketsRepo {
  constructor(readonly db: Db, private readonly now: Clock = systemClock) {}

  insert(input: NewTicket): TicketRecord {
    const row = this.db
      .prepare(
        `INSERT INTO terminal_tickets (hash, session_id, role, writable, user_id, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(input.hash, input.sessionId, input.role, input.write ? 1 : 0, input.userId ?? null, this.now().getTime(), input.expiresAt.getTime()) as TicketRow;
    return toTicket(row);
  }

  get(hash: string): TicketRecord | undefined {
    const row = this.db.prepare('SELECT * FROM terminal_tickets WHERE hash = ?').get(hash) as TicketRow | undefined;
    return row && toTicket(row);
  }

  /**
   * Marks the ticket used and returns it, only if it exists, is unused, has not expired
   * at `now` (and belongs to `sessionId`, when given). One UPDATE, so of any number of
   * concurrent callers, in this process or another, exactly one gets the ticket.
   * A ticket presented for the wrong session is left unused.
   */
  consume(hash: string, now: Date, sessionId?: string): TicketRecord | null {
    const t = now.getTime();
    const row = (
      sessionId === undefined
        ? this.db
            .prepare('UPDATE terminal_tickets SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ? RETURNING *')
            .get(t, hash, t)
        : this.db
            .prepare('UPDATE terminal_tickets SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ? AND session_id = ? RETURNING *')
            .get(t, hash, t, sessionId)
    ) as TicketRow | undefined;
    return row ? toTicket(row) : null;
  }

  /** Deletes tickets that expired before `before` (used or not). Returns how many. */
  purge(before: Date): number {
    return this.db.prepare('DELETE FROM terminal_tickets WHERE expires_at < ?').run(before.getTime()).changes;
  }
}

function toTicket(r: TicketRow): TicketRecord {
  return {
    hash: r.hash,
    sessionId: r.session_id,
    role: r.role,
    write: r.writable === 1,
    userId: r.user_id,
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    usedAt: r.used_at === null ? null : new Date(r.used_at),
  };
}
