/**
 * The graded report (API.md `Report`) and the candidate's view of it: hidden checks and
 * evidence are for staff only; hints are shown where a check did not pass.
 */
export type CheckStatus = 'passed' | 'failed' | 'error';

export interface ReportCheck {
  id: string;
  title: string;
  status: CheckStatus;
  points: number;
  earned: number;
  /** What to change (failed), what went wrong in the checker (error), or '' (passed). */
  message: string;
  hint?: string;
  evidence?: string;
  /** For `error`: a stable code (TIMEOUT, CHECK_CRASHED, ...). */
  code?: string;
  hidden: boolean;
  durationMs: number;
}

export interface Report {
  sessionId: string;
  lab: string;
  score: number;
  maxScore: number;
  gradedAt: string;
  durationMs: number;
  /** Workspace entries the snapshot refused (symlinks leaving it, devices, oversized files). */
  skipped: string[];
  checks: ReportCheck[];
}

/** What the candidate may see: no hidden checks (nor their points), no evidence, no skipped list. */
export function candidateView(report: Report): Report {
  const visible = report.checks.filter((c) => !c.hidden);
  return {
    ...report,
    score: visible.reduce((n, c) => n + c.earned, 0),
    maxScore: visible.reduce((n, c) => n + c.points, 0),
    skipped: [],
    checks: visible.map(({ evidence: _evidence, ...c }) => c),
  };
}
