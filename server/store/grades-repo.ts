import { systemClock, type Clock } from './clock.js';
import type { Db } from './db.js';

export type GradeTrigger = 'candidate' | 'staff' | 'end' | 'expiry' | 'test';

/** One grading of a session, kept forever: the report is the full staff view (JSON). */
export interface GradeRecord {
  id: number;
  sessionId: string;
  gradedAt: Date;
  trigger: GradeTrigger;
  score: number;
  maxScore: number;
  report: unknown;
}

interface GradeRow {
  id: number;
  session_id: string;
  graded_at: number;
  trigger: GradeTrigger;
  score: number;
  max_score: number;
  report: string;
}

export class GradesRepo {
  constructor(readonly db: Db, private readonly now: Clock = systemClock) {}

  insert(input: { sessionId: string; trigger: GradeTrigger; score: number; maxScore: number; report: unknown; gradedAt?: Date }): GradeRecord {
    const row = this.db
      .prepare(
        'INSERT INTO grades (session_id, graded_at, trigger, score, max_score, report) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      )
      .get(
        input.sessionId,
        (input.gradedAt ?? this.now()).getTime(),
        input.trigger,
        input.score,
        input.maxScore,
        JSON.stringify(input.report),
      ) as GradeRow;
    return toRecord(row);
  }

  latest(sessionId: string): GradeRecord | undefined {
    const row = this.db.prepare('SELECT * FROM grades WHERE session_id = ? ORDER BY id DESC LIMIT 1').get(sessionId) as
      | GradeRow
      | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Every grading of the session, oldest first. */
  list(sessionId: string): GradeRecord[] {
    const rows = this.db.prepare('SELECT * FROM grades WHERE session_id = ? ORDER BY id').all(sessionId) as GradeRow[];
    return rows.map(toRecord);
  }
}

function toRecord(r: GradeRow): GradeRecord {
  return {
    id: r.id,
    sessionId: r.session_id,
    gradedAt: new Date(r.graded_at),
    trigger: r.trigger,
    score: r.score,
    maxScore: r.max_score,
    report: JSON.parse(r.report) as unknown,
  };
}
