/** Messages in the page: errors, warnings, information. Never a stack trace. */
import { h, type Child } from '../lib/dom.js';

export type NoticeKind = 'error' | 'warning' | 'info' | 'success';

export function notice(kind: NoticeKind, ...content: Child[]): HTMLElement {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...content);
}

/** A whole-page message (invite expired, page not found, server unreachable). */
export function messagePage(title: string, body: string, action?: HTMLElement): HTMLElement {
  return h(
    'main',
    { id: 'main', class: 'message-page', 'data-testid': 'message-page' },
    h(
      'div',
      { class: 'message-card card' },
      h('div', { class: 'brand', 'aria-hidden': 'true' }, h('img', { src: '/favicon.svg', alt: '', width: 24, height: 24 }), h('span', null, 'opslab')),
      h('h1', null, title),
      h('p', null, body),
      action ? h('div', { class: 'message-actions' }, action) : null,
    ),
  );
}
