import { systemClock, type Clock } from './clock.js';
import { newId } from './ids.js';
import type { SqlClient } from './sql.js';

/** An interviewer's private note on a session: one per staff user per session. */
export interface Note {
  id: string;
  sessionId: string;
  userId: string;
  /** The author's user name (joined from `users`). */
  author: string;
  text: string;
  createdAt: Date;
  updatedAt: Date;
}

interface NoteRow {
  id: string;
  session_id: string;
  user_id: string;
  author: string;
  text: string;
  created_at: number;
  updated_at: number;
}

const SELECT = `SELECT n.id, n.session_id, n.user_id, u.name AS author, n.text, n.created_at, n.updated_at
  FROM session_notes n JOIN users u ON u.id = n.user_id`;

export class NotesRepo {
  constructor(private readonly sql: SqlClient, private readonly now: Clock = systemClock) {}

  /**
   * Saves `text` as the user's note on the session (creating it the first time). Last
   * write wins: the note is whatever was saved last, stamped with the time of saving.
   */
  save(sessionId: string, userId: string, text: string): Promise<Note> {
    const t = this.now().getTime();
    return this.sql.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO session_notes (id, session_id, user_id, text, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (session_id, user_id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at`,
        [newId(), sessionId, userId, text, t, t],
      );
      return (await new NotesRepo(tx, this.now).get(sessionId, userId))!;
    });
  }

  async get(sessionId: string, userId: string): Promise<Note | undefined> {
    const row = await this.sql.one<NoteRow>(`${SELECT} WHERE n.session_id = ? AND n.user_id = ?`, [sessionId, userId]);
    return row && toNote(row);
  }

  /** The session's notes, oldest first; `nonEmpty` leaves out notes whose text was cleared. */
  async list(sessionId: string, options: { nonEmpty?: boolean } = {}): Promise<Note[]> {
    const where = options.nonEmpty ? " AND n.text <> ''" : '';
    const rows = await this.sql.all<NoteRow>(`${SELECT} WHERE n.session_id = ?${where} ORDER BY n.created_at, n.id`, [sessionId]);
    return rows.map(toNote);
  }
}

function toNote(r: NoteRow): Note {
  return {
    id: r.id,
    sessionId: r.session_id,
    userId: r.user_id,
    author: r.author,
    text: r.text,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}
