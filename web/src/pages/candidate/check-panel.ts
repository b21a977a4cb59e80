/** "Check my work": runs the lab's checks now and shows what passed, with hints. */
import { gradeSession } from '../../api/endpoints.js';
import type { Auth } from '../../api/http.js';
import { isApiError } from '../../api/http.js';
import type { Report } from '../../api/types.js';
import { checkList, scoreLine } from '../../components/check-list.js';
import { notice } from '../../components/notice.js';
import { h, replaceChildren } from '../../lib/dom.js';
import { formatTime } from '../../lib/format.js';
import { explain } from '../../lib/messages.js';

export interface CheckPanel {
  button: HTMLButtonElement;
  el: HTMLElement;
}

export function checkPanel(sessionId: string, auth: Auth, onSessionOver: () => void): CheckPanel {
  const el = h('section', { class: 'results', 'aria-labelledby': 'results-head', 'data-testid': 'results', hidden: true });
  const button = h('button', { class: 'button button-primary', type: 'button', 'data-testid': 'check-work' }, 'Check my work');

  const show = (report: Report) => {
    const passed = report.checks.filter((c) => c.status === 'passed').length;
    const all = report.checks.length;
    const summary =
      all === 0
        ? 'This exercise has no checks you can see.'
        : passed === all
          ? `All ${all} checks pass. Nice work. You can keep improving, or press “I'm done”.`
          : `${passed} of ${all} checks pass. The ones that don't yet say what is missing.`;
    replaceChildren(
      el,
      h('div', { class: 'section-head' }, h('h2', { id: 'results-head' }, 'Your checks'), h('span', { class: 'muted small' }, `Checked at ${formatTime(report.gradedAt)}`)),
      scoreLine(report),
      h('p', { class: 'results-summary', 'data-testid': 'results-summary' }, summary),
      checkList(report, { staff: false }),
    );
    el.hidden = false;
  };

  button.addEventListener('click', () => {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    button.textContent = 'Checking…';
    gradeSession(sessionId, auth)
      .then(show)
      .catch((e: unknown) => {
        if (isApiError(e) && (e.status === 401 || (e.code === 'WRONG_STATE' && !/starting/i.test(e.message)))) {
          onSessionOver();
          return;
        }
        const text =
          isApiError(e) && e.code === 'WRONG_STATE'
            ? 'Your environment is still starting. Try again in a few seconds.'
            : `Your work could not be checked. ${explain(e, 'candidate')}`;
        replaceChildren(el, notice('error', text));
        el.hidden = false;
      })
      .finally(() => {
        button.disabled = false;
        button.removeAttribute('aria-busy');
        button.textContent = 'Check my work';
        el.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
      });
  });

  return { button, el };
}
