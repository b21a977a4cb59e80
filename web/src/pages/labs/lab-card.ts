/** One lab of the catalog: what it is, how long, how hard, and what is checked. */
import type { LabSummary } from '../../api/types.js';
import { h, icon, ICONS } from '../../lib/dom.js';
import { formatMinutes, plural } from '../../lib/format.js';

export function labCard(lab: LabSummary, onStart: (lab: LabSummary) => void): HTMLElement {
  const points = lab.checks.reduce((sum, c) => sum + c.points, 0);
  const headingId = `lab-${lab.id}-title`;
  return h(
    'article',
    { class: 'card lab-card', 'data-testid': `lab-${lab.id}`, 'aria-labelledby': headingId },
    h(
      'div',
      { class: 'lab-card-head' },
      h('h2', { id: headingId }, lab.title),
      h('span', { class: `difficulty difficulty-${lab.difficulty}` }, lab.difficulty),
    ),
    h('p', { class: 'lab-summary' }, lab.summary),
    h(
      'dl',
      { class: 'facts' },
      h('div', null, h('dt', null, 'Duration'), h('dd', null, icon([...ICONS.clock]), ' ', formatMinutes(lab.durationMinutes))),
      h('div', null, h('dt', null, 'Checks'), h('dd', null, `${plural(lab.checks.length, 'check')}, ${plural(points, 'point')}`)),
    ),
    lab.tags.length > 0 ? h('ul', { class: 'tags', 'aria-label': 'Tags' }, lab.tags.map((t) => h('li', { class: 'tag' }, t))) : null,
    h(
      'details',
      { class: 'lab-checks' },
      h('summary', null, 'What is checked'),
      h(
        'ul',
        null,
        lab.checks.map((c) =>
          h(
            'li',
            null,
            h('span', null, c.title),
            c.hidden ? h('span', { class: 'tag tag-muted', title: 'Not shown to the candidate' }, 'hidden') : null,
            h('span', { class: 'muted small' }, plural(c.points, 'pt', 'pts')),
          ),
        ),
      ),
    ),
    h(
      'div',
      { class: 'card-actions' },
      h('button', { class: 'button button-primary', type: 'button', 'data-testid': `start-${lab.id}`, onclick: () => onStart(lab) }, 'Start a session'),
    ),
  );
}
