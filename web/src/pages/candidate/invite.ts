/**
 * The candidate's invite arrives in the link's fragment (`/s/:id#token=...`), which
 * browsers never send to a server. It is read once, kept in this tab's sessionStorage
 * (so a reload still works) and removed from the address bar at once, so it does not
 * end up in screenshots, history or bookmarks.
 */
import { readStored, writeStored } from '../../lib/storage.js';

const key = (sessionId: string) => `opslab.invite.${sessionId}`;

export function readInvite(sessionId: string): string | null {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const fromLink = fragment.get('token');
  if (location.hash) history.replaceState(history.state, '', location.pathname + location.search);
  if (fromLink) {
    writeStored(key(sessionId), fromLink);
    return fromLink;
  }
  return readStored(key(sessionId));
}
