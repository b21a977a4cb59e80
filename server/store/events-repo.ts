import { systemClock, type Clock } from './clock.js';
import type { SqlClient } from './sql.js';

/** Something that happened to a session: state changes, grade results, notes, handovers. */
export interface SessionEvent {
  /** Increases monotonically across all sessions; an SSE client resumes after the last id it saw. */
  id: number;
  sessionId: string;
  at: Date;
  type: string;
  data: unknown;
}

interface EventRow {
  id: number;
  session_id: string;
  at: number;
  type: string;
  data: string;
}

export class EventsRepo {
  constructor(private readonly sql: SqlClient, private readonly now: Clock = systemClock) {}

  /** `data` must be JSON-serialisable; it defaults to `{}`. */
  async append(sessionId: string, type: string, data: unknown = {}): Promise<SessionEvent> {
    const row = await this.sql.one<EventRow>('INSERT INTO session_events (session_id, at, type, data) VALUES (?, ?, ?, ?) RETURNING *', [
      sessionId,
      this.now().getTime(),
      type,
      JSON.stringify(data ?? null),
    ]);
    return toEvent(row!);
  }

  /** The session's events with id greater than `afterId`, oldest first, at most `limit`. */
  async list(sessionId: string, options: { afterId?: number; limit?: number } = {}): Promise<SessionEvent[]> {
    const rows = await this.sql.all<EventRow>('SELECT * FROM session_events WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?', [
      sessionId,
      options.afterId ?? 0,
      options.limit ?? 1000,
    ]);
    return rows.map(toEvent);
  }
}

function toEvent(r: EventRow): SessionEvent {
  return { id: r.id, sessionId: r.session_id, at: new Date(r.at), type: r.type, data: JSON.parse(r.data) as unknown };
}
