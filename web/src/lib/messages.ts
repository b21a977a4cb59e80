/**
 * Errors in words: what happened and what to do, for the person looking at the page.
 * Pages pass what they were doing; the server's own message is only a last resort.
 */
import { isApiError } from '../api/http.js';

export type Audience = 'candidate' | 'staff';

const GENERIC: Record<string, Record<Audience, string>> = {
  NETWORK: {
    candidate: "We can't reach the opslab server. Check your internet connection; this page keeps trying.",
    staff: "We can't reach the opslab server. Check your connection, or whether the server is running.",
  },
  UNAUTHENTICATED: {
    candidate: 'This invite is no longer valid: the session has ended or its time ran out. If you think that is a mistake, ask your interviewer for a new link.',
    staff: 'You are signed out. Sign in again with your staff token.',
  },
  FORBIDDEN: {
    candidate: 'This invite belongs to a different session. Open the exact link your interviewer sent you.',
    staff: "Your account can't do this. An admin can give you the interviewer role.",
  },
  NOT_FOUND: {
    candidate: "We couldn't find this session. Check the link, or ask your interviewer for a new one.",
    staff: "We couldn't find that. It may have been removed, or the link is mistyped.",
  },
  WRONG_STATE: {
    candidate: 'Your session is not running any more, so this cannot be done now.',
    staff: 'The session is not in a state that allows this (it may have ended already).',
  },
  RATE_LIMITED: {
    candidate: 'Too many requests in a short time. Wait a few seconds and try again.',
    staff: 'Too many requests in a short time. Wait a few seconds and try again.',
  },
  NO_CAPACITY: {
    candidate: 'The lab servers are full right now. Tell your interviewer; they can start your session again.',
    staff: 'There is no room for another sandbox right now. End a finished session, or try again in a minute.',
  },
  SANDBOX_FAILED: {
    candidate: 'Your environment could not be started. Tell your interviewer; they can start a new one for you.',
    staff: "The sandbox could not be started. The server log has the engine's reason.",
  },
  DRIVER_UNSAFE: {
    candidate: 'This server is not set up for candidate sessions. Tell your interviewer.',
    staff: 'This server runs without isolation (the local driver), so it refuses candidate sessions. Use the Docker driver, or set OPSLAB_ALLOW_UNISOLATED=true for a trial.',
  },
  LAB_INVALID: {
    candidate: 'This exercise could not be loaded. Tell your interviewer.',
    staff: 'This lab has mistakes in its files and could not be loaded. `opslab lab validate` lists them.',
  },
  PAYLOAD_TOO_LARGE: {
    candidate: 'That was too much text to send at once.',
    staff: 'That was too much text to send at once (the limit is 64 kB).',
  },
};

const SERVER_TROUBLE: Record<Audience, string> = {
  candidate: 'Something went wrong on our side. Try again in a moment; if it keeps happening, tell your interviewer.',
  staff: 'Something went wrong on the server. Try again in a moment; the server log has the details.',
};

/** A sentence for `error`, for this audience. */
export function explain(error: unknown, audience: Audience): string {
  if (!isApiError(error)) return SERVER_TROUBLE[audience];
  if (error.code === 'VALIDATION') {
    const problems = Array.isArray(error.details)
      ? (error.details as { field?: string; message?: string }[]).map((d) => `${d.field ?? 'value'}: ${d.message ?? 'invalid'}`)
      : [];
    return problems.length > 0 ? `Please check: ${problems.join('; ')}.` : 'Some of what was entered is not valid. Please check it.';
  }
  const known = GENERIC[error.code];
  if (known) return known[audience];
  if (error.status >= 500 || error.code === 'BAD_RESPONSE') return SERVER_TROUBLE[audience];
  return SERVER_TROUBLE[audience];
}

/** For a feature whose endpoint this server does not have yet. */
export function notAvailable(what: string): string {
  return `${what} isn't available on this server yet. It will appear here once the server is updated.`;
}
