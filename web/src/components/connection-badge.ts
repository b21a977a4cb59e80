/** The terminal's connection state, in words, with "reconnect now" while waiting. */
import { h, replaceChildren } from '../lib/dom.js';
import type { ConnectionStatus } from '../terminal/connection.js';

export interface ConnectionBadge {
  el: HTMLElement;
  update(status: ConnectionStatus): void;
}

export function connectionBadge(onRetry: () => void): ConnectionBadge {
  const el = h('div', { class: 'connection', 'data-testid': 'connection-state', 'data-state': 'connecting', role: 'status', 'aria-live': 'polite' });
  let countdown: ReturnType<typeof setInterval> | null = null;

  const show = (state: string, text: string, extra?: Node) => {
    el.dataset.state = state;
    replaceChildren(el, h('span', { class: 'connection-dot', 'aria-hidden': 'true' }), h('span', { class: 'connection-text' }, text), extra ?? null);
  };

  return {
    el,
    update(status) {
      if (countdown) clearInterval(countdown);
      countdown = null;
      switch (status.kind) {
        case 'connecting':
          show('connecting', status.attempt > 1 ? 'Reconnecting…' : 'Connecting…');
          break;
        case 'connected':
          show('connected', 'Connected');
          break;
        case 'waiting': {
          const until = Date.now() + status.retryInMs;
          const button = h('button', { class: 'link-button', type: 'button', onclick: onRetry }, 'Reconnect now');
          const label = () => {
            const s = Math.max(1, Math.ceil((until - Date.now()) / 1000));
            const why = status.reason === 'offline' ? 'Offline' : 'Reconnecting';
            show('reconnecting', `${why}: next try in ${s} s`, button);
          };
          label();
          if (status.retryInMs > 1000) countdown = setInterval(label, 1000);
          break;
        }
        case 'closed':
          show('closed', status.reason === 'session-over' ? 'Session over' : 'Disconnected');
          break;
      }
    },
  };
}
