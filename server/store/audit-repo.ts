import { systemClock, type Clock } from './clock.js';
import type { SqlClient } from './sql.js';

/**
 * Staff actions the audit log records. Names are `<object>.<past tense>`; add new ones at
 * the end (the API documents this list).
 */
export const AUDIT_ACTIONS = [
  'auth.signed_in',
  'session.created',
  'session.observed',
  'session.keyboard_taken',
  'session.graded',
  'session.extended',
  'session.ended',
  'session.report_viewed',
  'session.recording_downloaded',
  'session.workspace_downloaded',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditActor {
  id: string;
  name: string;
  role: string;
}

export interface AuditEntry {
  /** Increases with every entry; pages go backwards with `before`. */
  id: number;
  at: Date;
  actor: AuditActor;
  action: AuditAction;
  sessionId: string | null;
  /** The client's address as the server saw it (no proxy headers are trusted). */
  client: string | null;
  detail: Record<string, unknown>;
}

export interface AuditFilter {
  sessionId?: string;
  actorId?: string;
  action?: AuditAction;
  /** Only entries with a smaller id (the next page of a newest-first listing). */
  before?: number;
  limit?: number;
}

interface AuditRow {
  id: number;
  at: number;
  actor_id: string;
  actor_name: string;
  actor_role: string;
  action: string;
  session_id: string | null;
  client: string | null;
  detail: string;
}

export class AuditRepo {
  constructor(private readonly sql: SqlClient, private readonly now: Clock = systemClock) {}

  async record(entry: { actor: AuditActor; action: AuditAction; sessionId?: string | null; client?: string | null; detail?: Record<string, unknown> }): Promise<AuditEntry> {
    const row = await this.sql.one<AuditRow>(
      `INSERT INTO audit_log (at, actor_id, actor_name, actor_role, action, session_id, client, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [
        this.now().getTime(),
        entry.actor.id,
        entry.actor.name,
        entry.actor.role,
        entry.action,
        entry.sessionId ?? null,
        entry.client ?? null,
        JSON.stringify(entry.detail ?? {}),
      ],
    );
    return toEntry(row!);
  }

  /** Newest first, at most `limit` (default 100). */
  async list(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const conditions: [string, string | number | undefined][] = [
      ['session_id = ?', filter.sessionId],
      ['actor_id = ?', filter.actorId],
      ['action = ?', filter.action],
      ['id < ?', filter.before],
    ];
    const used = conditions.filter((c): c is [string, string | number] => c[1] !== undefined);
    const where = used.map((c) => c[0]);
    const args = used.map((c) => c[1]);
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = await this.sql.all<AuditRow>(sql, [...args, filter.limit ?? 100]);
    return rows.map(toEntry);
  }
}

function toEntry(r: AuditRow): AuditEntry {
  return {
    id: r.id,
    at: new Date(r.at),
    actor: { id: r.actor_id, name: r.actor_name, role: r.actor_role },
    action: r.action as AuditAction,
    sessionId: r.session_id,
    client: r.client,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
  };
}
