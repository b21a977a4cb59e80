import { systemClock, type Clock } from './clock.js';
import type { SqlClient } from './sql.js';

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
  constructor(private readonly sql: SqlClient, private readonly now: Clock = systemClock) {}

  async insert(input: { sessionId: string; trigger: GradeTrigger; score: number; maxScore: number; report: unknown; gradedAt?: Date }): Promise<GradeRecord> {
    const row = await this.sql.one<GradeRow>(
      'INSERT INTO grades (session_id, graded_at, trigger, score, max_score, report) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      [input.sessionId, (input.gradedAt ?? this.now()).getTime(), input.trigger, input.score, input.maxScore, JSON.stringify(input.report)],
    );
    return toRecord(row!);
  }

  async latest(sessionId: string): Promise<GradeRecord | undefined> {
    const row = await this.sql.one<GradeRow>('SELECT * FROM grades WHERE session_id = ? ORDER BY id DESC LIMIT 1', [sessionId]);
    return row ? toRecord(row) : undefined;
  }

  /** Every grading of the session, oldest first. */
  async list(sessionId: string): Promise<GradeRecord[]> {
    const rows = await this.sql.all<GradeRow>('SELECT * FROM grades WHERE session_id = ? ORDER BY id', [sessionId]);
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
