/**
 * Check results as they arrive: each `grade` event of the session's event stream
 * brings the full report (staff view, hidden checks and evidence included).
 */
import { gradeSession, latestReport } from '../../api/endpoints.js';
import { isApiError } from '../../api/http.js';
import type { GradeEventData, Report } from '../../api/types.js';
import { checkList, scoreLine } from '../../components/check-list.js';
import { notice } from '../../components/notice.js';
import { h, replaceChildren } from '../../lib/dom.js';
import { formatTime } from '../../lib/format.js';
import { explain } from '../../lib/messages.js';

const TRIGGER_TEXT: Record<string, string> = {
  candidate: 'the candidate checked their work',
  staff: 'an interviewer ran the checks',
  end: 'the session ended',
  expiry: 'the time ran out',
  test: 'a lab test',
};

export interface LiveChecks {
  el: HTMLElement;
  onGradeEvent(data: GradeEventData): void;
  setLive(live: boolean): void;
}

export function liveChecks(sessionId: string): LiveChecks {
  const body = h('div', { 'data-testid': 'live-checks' }, h('p', { class: 'muted' }, 'No checks have run yet. They appear here when the candidate presses “Check my work”.'));
  const runButton = h('button', { class: 'button button-small', type: 'button', 'data-testid': 'run-checks' }, 'Run checks now');
  const el = h(
    'section',
    { class: 'side-section', 'aria-labelledby': 'live-checks-head' },
    h('div', { class: 'section-head' }, h('h2', { id: 'live-checks-head' }, 'Checks'), runButton),
    body,
  );
  let shownAt = '';

  const show = (report: Report & { trigger?: string }) => {
    if (report.gradedAt < shownAt) return;
    shownAt = report.gradedAt;
    replaceChildren(
      body,
      h('p', { class: 'muted small', 'data-testid': 'checks-when' }, `${formatTime(report.gradedAt)}: ${report.trigger ? (TRIGGER_TEXT[report.trigger] ?? report.trigger) : 'latest'}`),
      scoreLine(report),
      checkList(report, { staff: true }),
    );
  };

  const loadLatest = () =>
    latestReport(sessionId)
      .then(show)
      .catch((e: unknown) => {
        if (isApiError(e) && e.status === 404) return;
        replaceChildren(body, notice('error', explain(e, 'staff')));
      });
  void loadLatest();

  runButton.addEventListener('click', () => {
    runButton.disabled = true;
    runButton.textContent = 'Checking…';
    gradeSession(sessionId)
      .then((r) => show({ ...r, trigger: 'staff' }))
      .catch((e: unknown) => replaceChildren(body, notice('error', explain(e, 'staff'))))
      .finally(() => {
        runButton.disabled = false;
        runButton.textContent = 'Run checks now';
      });
  });

  return {
    el,
    onGradeEvent: (data) => {
      if (data.gradedAt >= shownAt) void loadLatest();
    },
    setLive: (live) => {
      runButton.hidden = !live;
    },
  };
}
