/**
 * Staff sign-in. The server's cookie login (`POST /api/auth/login`) is preferred: the
 * token is traded for an HttpOnly cookie and forgotten. On a server without it, the
 * token is kept in this tab's sessionStorage and sent as a bearer header instead, so
 * the app still works (and says so on the sign-in page).
 */
import { listLabs, login, logout, me } from './endpoints.js';
import { ApiError, isApiError, STAFF_TOKEN_KEY } from './http.js';
import type { StaffUser } from './types.js';
import { readStored, removeStored, writeStored } from '../lib/storage.js';

const FALLBACK_USER: StaffUser = { name: 'Staff', role: 'staff' };
let current: Promise<StaffUser | null> | null = null;

export type SignInMode = 'cookie' | 'tab';

export async function signIn(token: string): Promise<{ user: StaffUser; mode: SignInMode }> {
  const trimmed = token.trim();
  current = null;
  try {
    const user = await login(trimmed);
    removeStored(STAFF_TOKEN_KEY);
    const confirmed = user ?? (await me().catch(() => null)) ?? FALLBACK_USER;
    current = Promise.resolve(confirmed);
    return { user: confirmed, mode: 'cookie' };
  } catch (e) {
    if (!(isApiError(e) && (e.endpointMissing || e.status === 405))) throw e;
  }
  // No cookie login on this server: keep the token for this tab and check it works.
  writeStored(STAFF_TOKEN_KEY, trimmed);
  try {
    await listLabs();
  } catch (e) {
    removeStored(STAFF_TOKEN_KEY);
    throw e;
  }
  const user = (await me().catch(() => null)) ?? FALLBACK_USER;
  current = Promise.resolve(user);
  return { user, mode: 'tab' };
}

async function lookUp(): Promise<StaffUser | null> {
  try {
    return await me();
  } catch (e) {
    if (!isApiError(e)) return null;
    if (e.status === 401 || e.status === 403) return null;
    if (!e.endpointMissing) throw e;
  }
  // No /api/auth/me: signed in if a kept token still opens the lab list.
  if (!readStored(STAFF_TOKEN_KEY)) return null;
  try {
    await listLabs();
    return FALLBACK_USER;
  } catch (e) {
    if (isApiError(e) && (e.status === 401 || e.status === 403)) {
      removeStored(STAFF_TOKEN_KEY);
      return null;
    }
    throw e;
  }
}

/** The signed-in staff user, or null. Network trouble rejects (an ApiError). */
export function currentStaff(): Promise<StaffUser | null> {
  if (!current) {
    current = lookUp();
    current.catch(() => {
      current = null;
    });
  }
  return current;
}

export async function signOut(): Promise<void> {
  current = null;
  removeStored(STAFF_TOKEN_KEY);
  try {
    await logout();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    // no cookie login on this server, or already signed out
  }
}

/** Forget the cached user (after a 401 somewhere). */
export function forgetStaff(): void {
  current = null;
}
