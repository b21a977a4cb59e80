/** A session's state as a coloured label. */
import type { SessionState } from '../api/types.js';
import { h } from '../lib/dom.js';

const TEXT: Record<SessionState, string> = {
  starting: 'Starting',
  ready: 'Live',
  ended: 'Ended',
  failed: 'Failed',
  expired: 'Time ran out',
};

export function stateText(state: SessionState): string {
  return TEXT[state] ?? state;
}

export function stateBadge(state: SessionState): HTMLElement {
  return h('span', { class: `badge badge-${state}`, 'data-testid': 'session-state', 'data-state': state }, stateText(state));
}
