/** A unified diff with added, removed and hunk lines coloured (as text, never HTML). */
import { h } from '../../lib/dom.js';

const MAX_LINES = 4000;

export function diffView(diff: string): HTMLElement {
  const lines = diff.replace(/\n$/, '').split('\n');
  const shown = lines.slice(0, MAX_LINES);
  const kind = (line: string) => {
    if (line.startsWith('diff --git') || line.startsWith('index ') || line.startsWith('--- ') || line.startsWith('+++ ')) return 'meta';
    if (line.startsWith('@@')) return 'hunk';
    if (line.startsWith('+')) return 'add';
    if (line.startsWith('-')) return 'del';
    return 'ctx';
  };
  return h(
    'div',
    { class: 'diff', 'data-testid': 'diff' },
    h('pre', { class: 'diff-body' }, shown.map((l) => h('span', { class: `diff-line diff-${kind(l)}` }, `${l}\n`))),
    lines.length > MAX_LINES ? h('p', { class: 'muted small' }, `… ${lines.length - MAX_LINES} more lines not shown. Download the workspace for the whole history.`) : null,
  );
}
