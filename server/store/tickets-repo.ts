import { systemClock, type Clock } from './clock.js';
import type { SqlClient } from './sql.js';

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
  constructor(private readonly sql: SqlClient, private readonly now: Clock = systemClock) {}

  async insert(input: NewTicket): Promise<TicketRecord> {
    const row = await this.sql.one<TicketRow>(
      `INSERT INTO terminal_tickets (hash, session_id, role, writable, user_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [input.hash, input.sessionId, input.role, input.write ? 1 : 0, input.userId ?? null, this.now().getTime(), input.expiresAt.getTime()],
    );
    return toTicket(row!);
  }

  async get(hash: string): Promise<TicketRecord | undefined> {
    const row = await this.sql.one<TicketRow>('SELECT * FROM terminal_tickets WHERE hash = ?', [hash]);
    return row && toTicket(row);
  }

  /**
   * Marks the ticket used and returns it, only if it exists, is unused, has not expired
   * at `now` (and belongs to `sessionId`, when given). One UPDATE, so of any number of
   * concurrent callers, in this process or another, on either database, exactly one gets
   * the ticket (PostgreSQL re-checks `used_at IS NULL` on the row once the first
   * updater's lock is released). A ticket presented for the wrong session is left unused.
   */
  async consume(hash: string, now: Date, sessionId?: string): Promise<TicketRecord | null> {
    const t = now.getTime();
    const row =
      sessionId === undefined
        ? await this.sql.one<TicketRow>(
            'UPDATE terminal_tickets SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ? RETURNING *',
            [t, hash, t],
          )
        : await this.sql.one<TicketRow>(
            'UPDATE terminal_tickets SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ? AND session_id = ? RETURNING *',
            [t, hash, t, sessionId],
          );
    return row ? toTicket(row) : null;
  }

  /** Deletes tickets that expired before `before` (used or not). Returns how many. */
  purge(before: Date): Promise<number> {
    return this.sql.run('DELETE FROM terminal_tickets WHERE expires_at < ?', [before.getTime()]);
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
