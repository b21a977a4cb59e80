/** The API's shapes (docs/openapi.yaml), as far as the pages use them. */

export type SessionState = 'starting' | 'ready' | 'ended' | 'failed' | 'expired';
export const LIVE_STATES: readonly SessionState[] = ['starting', 'ready'];

export interface Session {
  id: string;
  lab: string;
  state: SessionState;
  candidate: { name: string; email?: string | null };
  durationMinutes: number;
  createdAt: string;
  readyAt: string | null;
  expiresAt: string | null;
  endedAt: string | null;
  error: string | null;
}

export interface CreatedSession extends Session {
  candidateToken: string;
  candidateUrl: string;
  observeUrl: string;
}

export interface LabCheckSummary {
  id: string;
  title: string;
  points: number;
  hidden: boolean;
}

export interface LabSummary {
  id: string;
  title: string;
  summary: string;
  difficulty: 'easy' | 'medium' | 'hard';
  durationMinutes: number;
  tags: string[];
  checks: LabCheckSummary[];
}

export interface Lab extends LabSummary {
  brief: string;
}

export interface InvalidLab {
  id: string;
  problems: string[];
}

// The report shapes are the server's own (type-only: nothing of the server is bundled).
export type { CheckStatus, Report, ReportCheck } from '../../../server/checker/report';
import type { Report } from '../../../server/checker/report';
export type { GradeTrigger } from '../../../server/store/grades-repo';
import type { GradeTrigger } from '../../../server/store/grades-repo';

export interface StoredReport extends Report {
  trigger: GradeTrigger;
}

export interface GradeEventData {
  trigger: GradeTrigger;
  score: number;
  maxScore: number;
  gradedAt: string;
}

export interface TerminalTicket {
  ticket: string;
  role: 'candidate' | 'observer';
  write: boolean;
  expiresAt: string;
}

export interface StaffUser {
  id?: string;
  name: string;
  role: string;
}

export interface FileChange {
  path: string;
  /** `null` for a binary file. */
  additions: number | null;
  deletions: number | null;
}

export interface Commit {
  hash: string;
  subject: string;
  author: string;
  email: string;
  date: string | null;
  files: FileChange[];
}

export interface CommitHistory {
  source: 'live' | 'archive' | null;
  commits: Commit[];
  commitsTruncated: boolean;
  files: FileChange[];
  diff: string;
  truncated: boolean;
  warning: string | null;
}

export interface Note {
  id: string;
  author: string;
  mine: boolean;
  text: string;
  updatedAt: string | null;
}
