/**
 * The session state machine. States only move forward (coder's rule: "cannot regress
 * states"): starting → ready → ended, or → failed (with the reason), or → expired when
 * the time limit passes. The store applies a transition atomically only from the
 * states listed here, so two racing transitions cannot both win.
 */
import { SESSION_STATES, type SessionState } from '../store/sessions-repo.js';

export { SESSION_STATES, type SessionState };

const NEXT: Record<SessionState, readonly SessionState[]> = {
  starting: ['ready', 'failed', 'ended', 'expired'],
  ready: ['ended', 'failed', 'expired'],
  ended: [],
  failed: [],
  expired: [],
};

export function canTransition(from: SessionState, to: SessionState): boolean {
  return NEXT[from].includes(to);
}

/** The states a session may be in for a move to `to` to be allowed. */
export function sourcesOf(to: SessionState): SessionState[] {
  return SESSION_STATES.filter((s) => NEXT[s].includes(to));
}

export function isLive(state: SessionState): boolean {
  return state === 'starting' || state === 'ready';
}
