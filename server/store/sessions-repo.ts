import type { SandboxRef, TermSize } from '../sandbox/driver.js';
import { systemClock, type Clock } from './clock.js';
import { newId } from './ids.js';
import { placeholders, type SqlClient } from './sql.js';

export const SESSION_STATES = ['starting', 'ready', 'ended', 'failed', 'expired'] as const;
export type SessionState = (typeof SESSION_STATES)[number];
/** States in which a session holds (or is getting) a sandbox and its invite works. */
export const LIVE_STATES: readonly SessionState[] = ['starting', 'ready'];

/** A session as stored. Times are Dates (JSON-serialise to ISO strings); absent ones are null. */
export interface Session {
  id: string;
  labId: string;
  state: SessionState;
  candidateName: string;
  candidateEmail: string | null;
  durationMinutes: number;
  createdAt: Date;
  readyAt: Date | null;
  expiresAt: Date | null;
  endedAt: Date | null;
  error: string | null;
  /** Id of the staff user who created it. */
  createdBy: string;
  sandbox: SandboxRef | null;
  /** The commit the candidate's repository started from (the checker counts from here). */
  startCommit: string | null;
  termSize: TermSize;
}

export interface NewSession {
  /** Chosen by the caller when it needs the id early (labels); generated otherwise. */
  id?: string;
  labId: string;
  candidateName: string;
  candidateEmail?: string | null;
  durationMinutes: number;
  /** SHA-256 of the candidate's invite token, never the token. */
  inviteHash: string;
  createdBy: string;
  /** Defaults to `starting`. */
  state?: SessionState;
  expiresAt?: Date | null;
  termSize?: TermSize;
}

/** Columns a transition may set alongside the state. `null` clears; absent leaves as is. */
export interface TransitionFields {
  readyAt?: Date | null;
  expiresAt?: Date | null;
  endedAt?: Date | null;
  error?: string | null;
  sandbox?: SandboxRef | null;
}

interface SessionRow {
  id: string;
  lab_id: string;
  state: SessionState;
  candidate_name: string;
  candidate_email: string | null;
  duration_minutes: number;
  created_at: number;
  ready_at: number | null;
  expires_at: number | null;
  ended_at: number | null;
  error: string | null;
  created_by: string;
  sandbox: string | null;
  start_commit: string | null;
  term_cols: number;
  term_rows: number;
}

// Everything but invite_hash, which no caller needs back.
const COLUMNS =
  'id, lab_id, state, candidate_name, candidate_email, duration_minutes, created_at, ready_at, expires_at, ended_at, error, created_by, sandbox, start_commit, term_cols, term_rows';

const FIELD_COLUMNS: Record<keyof TransitionFields, string> = {
  readyAt: 'ready_at',
  expiresAt: 'expires_at',
  endedAt: 'ended_at',
  error: 'error',
  sandbox: 'sandbox',
};

/**
 * The storage half of the session state machine. Which transitions are allowed lives in
 * server/sessions/state.ts; here `transition` only guarantees that a move happens at most
 * once, atomically, from a state the caller named.
 */
export class SessionsRepo {
  constructor(private readonly sql: SqlClient, private readonly now: Clock = systemClock) {}

  async insert(input: NewSession): Promise<Session> {
    const size = input.termSize ?? { cols: 80, rows: 24 };
    const row = await this.sql.one<SessionRow>(
      `INSERT INTO sessions (id, lab_id, state, candidate_name, candidate_email, duration_minutes, created_at,
         expires_at, invite_hash, created_by, term_cols, term_rows)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
      [
        input.id ?? newId(),
        input.labId,
        input.state ?? 'starting',
        input.candidateName,
        input.candidateEmail ?? null,
        input.durationMinutes,
        this.now().getTime(),
        input.expiresAt?.getTime() ?? null,
        input.inviteHash,
        input.createdBy,
        size.cols,
        size.rows,
      ],
    );
    return toSession(row!);
  }

  async get(id: string): Promise<Session | undefined> {
    const row = await this.sql.one<SessionRow>(`SELECT ${COLUMNS} FROM sessions WHERE id = ?`, [id]);
    return row && toSession(row);
  }

  /** Newest first. */
  async list(filter: { state?: SessionState | readonly SessionState[]; limit?: number } = {}): Promise<Session[]> {
    const states = filter.state === undefined ? undefined : typeof filter.state === 'string' ? [filter.state] : filter.state;
    if (states !== undefined && states.length === 0) return [];
    const where = states ? `WHERE state IN (${placeholders(states.length)})` : '';
    const limit = filter.limit === undefined ? '' : 'LIMIT ?';
    const params: unknown[] = [...(states ?? []), ...(filter.limit === undefined ? [] : [filter.limit])];
    const rows = await this.sql.all<SessionRow>(`SELECT ${COLUMNS} FROM sessions ${where} ORDER BY created_at DESC, id ${limit}`, params);
    return rows.map(toSession);
  }

  /** How many sessions are starting or ready (each holds a sandbox). */
  async countLive(): Promise<number> {
    const row = await this.sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM sessions WHERE state IN (${placeholders(LIVE_STATES.length)})`, LIVE_STATES);
    return row!.n;
  }

  /** Sessions that are starting or ready: what the reaper keeps and the server re-adopts. */
  listLive(): Promise<Session[]> {
    return this.list({ state: LIVE_STATES });
  }

  /** The session whose invite hashes to `inviteHash`, in any state (callers check the state). */
  async findByInviteHash(inviteHash: string): Promise<Session | undefined> {
    const row = await this.sql.one<SessionRow>(`SELECT ${COLUMNS} FROM sessions WHERE invite_hash = ?`, [inviteHash]);
    return row && toSession(row);
  }

  /**
   * Moves the session to `to` only if its state is one of `from` (and, when `expect`
   * gives it, its expiry is still `expect.expiresAt`: a compare-and-set), in one
   * statement, and sets `fields` with it. Returns the new row, or null when the session
   * is missing or no longer matches (nothing changed).
   */
  async transition(
    id: string,
    from: readonly SessionState[],
    to: SessionState,
    fields: TransitionFields = {},
    expect: { expiresAt?: Date | null } = {},
  ): Promise<Session | null> {
    if (from.length === 0) return null;
    const sets = ['state = ?'];
    const values: unknown[] = [to];
    for (const [key, value] of Object.entries(fields) as Array<[keyof TransitionFields, TransitionFields[keyof TransitionFields]]>) {
      if (value === undefined) continue;
      sets.push(`${FIELD_COLUMNS[key]} = ?`);
      values.push(toColumn(key, value));
    }
    let guard = '';
    const guardValues: unknown[] = [];
    if (expect.expiresAt !== undefined) {
      guard = expect.expiresAt === null ? ' AND expires_at IS NULL' : ' AND expires_at = ?';
      if (expect.expiresAt !== null) guardValues.push(expect.expiresAt.getTime());
    }
    const row = await this.sql.one<SessionRow>(
      `UPDATE sessions SET ${sets.join(', ')} WHERE id = ? AND state IN (${placeholders(from.length)})${guard} RETURNING ${COLUMNS}`,
      [...values, id, ...from, ...guardValues],
    );
    return row ? toSession(row) : null;
  }

  async setStartCommit(id: string, commit: string): Promise<boolean> {
    return (await this.sql.run('UPDATE sessions SET start_commit = ? WHERE id = ?', [commit, id])) === 1;
  }

  /** Records (or clears) the sandbox. Returns the new row, or null for an unknown session. */
  async setSandbox(id: string, sandbox: SandboxRef | null): Promise<Session | null> {
    const row = await this.sql.one<SessionRow>(`UPDATE sessions SET sandbox = ? WHERE id = ? RETURNING ${COLUMNS}`, [
      sandbox === null ? null : JSON.stringify(sandboxJson(sandbox)),
      id,
    ]);
    return row ? toSession(row) : null;
  }

  /** Remembers the terminal size so a late viewer and the replay start right. */
  async setTermSize(id: string, size: TermSize): Promise<boolean> {
    return (await this.sql.run('UPDATE sessions SET term_cols = ?, term_rows = ? WHERE id = ?', [size.cols, size.rows, id])) === 1;
  }

  /** Replaces the candidate's invite (the old one stops working). */
  async setInviteHash(id: string, inviteHash: string): Promise<boolean> {
    return (await this.sql.run('UPDATE sessions SET invite_hash = ? WHERE id = ?', [inviteHash, id])) === 1;
  }
}

function sandboxJson(s: SandboxRef): SandboxRef {
  return { sessionId: s.sessionId, driver: s.driver, id: s.id };
}

function toColumn(key: keyof TransitionFields, value: Date | string | SandboxRef | null): unknown {
  if (value === null) return null;
  if (value instanceof Date) return value.getTime();
  if (key === 'sandbox') return JSON.stringify(sandboxJson(value as SandboxRef));
  return value;
}

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

function toSession(r: SessionRow): Session {
  return {
    id: r.id,
    labId: r.lab_id,
    state: r.state,
    candidateName: r.candidate_name,
    candidateEmail: r.candidate_email,
    durationMinutes: r.duration_minutes,
    createdAt: new Date(r.created_at),
    readyAt: date(r.ready_at),
    expiresAt: date(r.expires_at),
    endedAt: date(r.ended_at),
    error: r.error,
    createdBy: r.created_by,
    sandbox: r.sandbox === null ? null : (JSON.parse(r.sandbox) as SandboxRef),
    startCommit: r.start_commit,
    termSize: { cols: r.term_cols, rows: r.term_rows },
  };
}
