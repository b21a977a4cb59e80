/**
 * The checks of one grading: pass / fail / could-not-decide, points, what to change,
 * the lab's hint, and (staff only) the evidence and which checks are hidden from the
 * candidate.
 */
import type { Report, ReportCheck } from '../api/types.js';
import { h, icon, ICONS } from '../lib/dom.js';
import { plural } from '../lib/format.js';

const STATUS_TEXT: Record<ReportCheck['status'], string> = {
  passed: 'Passed',
  failed: 'Not yet',
  error: 'Could not check',
};

export function scoreLine(report: Pick<Report, 'score' | 'maxScore'>): HTMLElement {
  const percent = report.maxScore > 0 ? Math.round((report.score / report.maxScore) * 100) : 0;
  return h(
    'div',
    { class: 'score', 'data-testid': 'score' },
    h('span', { class: 'score-value' }, `${report.score} / ${report.maxScore}`),
    h('span', { class: 'score-caption' }, `points (${percent}%)`),
    h('span', { class: 'score-bar', 'aria-hidden': 'true' }, h('span', { class: 'score-fill', style: `width: ${percent}%` })),
  );
}

function checkItem(check: ReportCheck, staff: boolean): HTMLElement {
  const statusIcon = check.status === 'passed' ? ICONS.check : check.status === 'failed' ? ICONS.cross : ICONS.alert;
  const message = check.status === 'error' ? check.message.replace(/^the checker could not decide this check:\s*/i, '') : check.message;
  return h(
    'li',
    { class: `check check-${check.status}`, 'data-testid': `check-${check.id}`, 'data-status': check.status },
    h('span', { class: 'check-icon' }, icon([...statusIcon], STATUS_TEXT[check.status])),
    h(
      'div',
      { class: 'check-body' },
      h(
        'div',
        { class: 'check-head' },
        h('span', { class: 'check-title' }, check.title),
        staff && check.hidden ? h('span', { class: 'tag tag-muted', title: 'The candidate does not see this check' }, 'hidden') : null,
        h('span', { class: 'check-points' }, `${check.earned}/${plural(check.points, 'pt', 'pts')}`),
      ),
      h('div', { class: 'check-status' }, STATUS_TEXT[check.status]),
      message ? h('p', { class: 'check-message' }, check.status === 'error' ? `The checker could not decide: ${message}` : message) : null,
      check.hint ? h('p', { class: 'check-hint' }, h('strong', null, 'Hint: '), check.hint) : null,
      staff && check.evidence
        ? h('details', { class: 'check-evidence' }, h('summary', null, 'Evidence'), h('pre', null, check.evidence))
        : null,
    ),
  );
}

export function checkList(report: Report, options: { staff: boolean }): HTMLElement {
  return h('ul', { class: 'checks', 'data-testid': 'check-list' }, report.checks.map((c) => checkItem(c, options.staff)));
}
