import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Clock } from '../../../server/store/clock.js';
import { openSqliteStore, type SqliteStore, type Store } from '../../../server/store/store.js';
import { generateToken, hashToken } from '../../../server/auth/tokens.js';
import type { Session, SessionState } from '../../../server/store/sessions-repo.js';
import type { User, UserRole } from '../../../server/store/users-repo.js';

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'opslab-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A clock that moves only when told to. */
export function manualClock(start = Date.parse('2030-01-01T00:00:00.000Z')): Clock & { advance(ms: number): void; set(ms: number): void } {
  let t = start;
  const clock = (() => new Date(t)) as Clock & { advance(ms: number): void; set(ms: number): void };
  clock.advance = (ms) => { t += ms; };
  clock.set = (ms) => { t = ms; };
  return clock;
}

export interface TestStore {
  store: SqliteStore;
  dir: string;
  file: string;
  clock: ReturnType<typeof manualClock>;
  close(): Promise<void>;
}

/** A real SQLite store in a temp dir, with a manual clock. */
export function testStore(): TestStore {
  const { dir, cleanup } = tempDir();
  const file = path.join(dir, 'opslab.db');
  const clock = manualClock();
  const store = openSqliteStore(file, { now: clock });
  return { store, dir, file, clock, close: async () => { await store.close(); cleanup(); } };
}

export async function addUser(store: Pick<Store, 'users'>, name: string, role: UserRole = 'interviewer'): Promise<{ user: User; token: string }> {
  const token = generateToken('staff');
  const user = await store.users.create({ name, role, tokenHash: hashToken(token) });
  return { user, token };
}

export async function addSession(
  store: Pick<Store, 'sessions'>,
  createdBy: string,
  o: { state?: SessionState; expiresAt?: Date } = {},
): Promise<{ session: Session; invite: string }> {
  const invite = generateToken('candidate');
  const session = await store.sessions.insert({
    labId: 'hello',
    candidateName: 'Ada',
    candidateEmail: 'ada@example.com',
    durationMinutes: 60,
    inviteHash: hashToken(invite),
    createdBy,
    ...(o.state ? { state: o.state } : {}),
    ...(o.expiresAt ? { expiresAt: o.expiresAt } : {}),
  });
  return { session, invite };
}
