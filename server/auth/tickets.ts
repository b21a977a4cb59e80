import { AppError } from '../errors.js';
import { systemClock, type Clock } from '../store/clock.js';
import type { EventsRepo } from '../store/events-repo.js';
import { LIVE_STATES, type SessionsRepo } from '../store/sessions-repo.js';
import type { TicketRecord, TicketRole, TicketsRepo } from '../store/tickets-repo.js';
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
  tickets: TicketsRepo;
  sessions: SessionsRepo;
  events: EventsRepo;
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
  issue(sessionId: string, principal: Principal | null | undefined, options: { write?: boolean } = {}): IssuedTicket {
    const p = requireSessionAccess(principal, sessionId);
    const session = this.deps.sessions.get(sessionId);
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
    this.deps.tickets.db
      .transaction(() => {
        this.deps.tickets.insert({ hash: hashToken(ticket), sessionId, role, write, userId, expiresAt });
        if (p.kind === 'staff' && write) {
          this.deps.events.append(sessionId, WRITE_HANDOVER_EVENT, { userId: p.userId, name: p.name });
        }
      })
      .immediate();
    return { ticket, role, write, expiresAt };
  }

  /**
   * Spends the ticket for `sessionId`. Returns its record, or throws TICKET_INVALID if
   * it is unknown, used, expired or for another session (`details.reason` says which,
   * for logs and for a client deciding whether to ask for a new ticket).
   */
  redeem(ticket: string, sessionId: string): TicketRecord {
    const hash = hashToken(ticket);
    const now = this.now();
    const record = this.deps.tickets.consume(hash, now, sessionId);
    if (record) return record;
    const found = this.deps.tickets.get(hash);
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

