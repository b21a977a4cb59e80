import { AppError } from '../errors.js';
import { systemClock, type Clock } from '../store/clock.js';
import { LIVE_STATES } from '../store/sessions-repo.js';
import type { Store } from '../store/store.js';
import type { TicketRecord, TicketRole } from '../store/tickets-repo.js';
import { requireSessionAccess, type Principal } from './principal.js';
import { generateToken, hashToken } from './tokens.js';

export interface IssuedTicket {
  /** The secret; only its hash is stored. */
  ticket: string;
  role: TicketRole;
  write: boolean;
  expiresAt: Date;
}

export interface TerminalTicketsDeps {
  store: Pick<Store, 'tickets' | 'sessions' | 'transaction'>;
  /** `config.sessions.ticketTtlSeconds`. */
  ttlSeconds: number;
  now?: Clock;
}

/** Event recorded when an admin takes a writable terminal (the handover is logged). */
export const WRITE_HANDOVER_EVENT = 'terminal.write-granted';

/**
 * Single-use, short-lived tickets for the terminal WebSocket: the browser cannot send an
 * Authorization header on an upgrade, so it trades its bearer token for a ticket first.
 */
export class TerminalTickets {
  private readonly now: Clock;

  constructor(private readonly deps: TerminalTicketsDeps) {
    this.now = deps.now ?? systemClock;
  }

  /**
   * The candidate gets a writable `candidate` ticket. Staff get a read-only `observer`
   * ticket; an admin who asks `write: true` gets a writable `candidate` ticket, recorded
   * with their user id and as a session event. Throws UNAUTHENTICATED / FORBIDDEN,
   * NOT_FOUND for an unknown session, WRONG_STATE once it is over.
   */
  async issue(sessionId: string, principal: Principal | null | undefined, options: { write?: boolean } = {}): Promise<IssuedTicket> {
    const p = requireSessionAccess(principal, sessionId);
    const session = await this.deps.store.sessions.get(sessionId);
    if (!session) throw new AppError('NOT_FOUND', `no session ${sessionId}`);
    if (!LIVE_STATES.includes(session.state)) throw new AppError('WRONG_STATE', `session ${sessionId} is ${session.state}`);

    let role: TicketRole;
    let write: boolean;
    let userId: string | null = null;
    if (p.kind === 'candidate') {
      role = 'candidate';
      write = true;
    } else if (options.write === true) {
      if (p.role !== 'admin') throw new AppError('FORBIDDEN', 'only an admin may take a writable terminal');
      role = 'candidate';
      write = true;
      userId = p.userId;
    } else {
      role = 'observer';
      write = false;
      userId = p.userId;
    }

    const ticket = generateToken('ticket');
    const expiresAt = new Date(this.now().getTime() + this.deps.ttlSeconds * 1000);
    await this.deps.store.transaction(async (tx) => {
      await tx.tickets.insert({ hash: hashToken(ticket), sessionId, role, write, userId, expiresAt });
      if (p.kind === 'staff' && write) {
        await tx.events.append(sessionId, WRITE_HANDOVER_EVENT, { userId: p.userId, name: p.name });
      }
    });
    return { ticket, role, write, expiresAt };
  }

  /**
   * Spends the ticket for `sessionId`. Returns its record, or throws TICKET_INVALID if
   * it is unknown, used, expired or for another session (`details.reason` says which,
   * for logs and for a client deciding whether to ask for a new ticket).
   */
  async redeem(ticket: string, sessionId: string): Promise<TicketRecord> {
    const hash = hashToken(ticket);
    const now = this.now();
    const record = await this.deps.store.tickets.consume(hash, now, sessionId);
    if (record) return record;
    const found = await this.deps.store.tickets.get(hash);
    const reason = !found
      ? 'unknown'
      : found.sessionId !== sessionId
        ? 'other-session'
        : found.usedAt !== null
          ? 'used'
          : 'expired';
    throw new AppError('TICKET_INVALID', 'terminal ticket is invalid, used or expired', { details: { reason } });
  }
}

