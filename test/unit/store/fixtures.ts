import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Clock } from '../../../server/store/clock.js';
import { openStore, type Store } from '../../../server/store/store.js';
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
  store: Store;
  dir: string;
  file: string;
  clock: ReturnType<typeof manualClock>;
  close(): void;
}

/** A real SQLite store in a temp dir, with a manual clock. */
export function testStore(): TestStore {
  const { dir, cleanup } = tempDir();
  const file = path.join(dir, 'opslab.db');
  const clock = manualClock();
  const store = openStore(file, { now: clock });
  return { store, dir, file, clock, close: () => { store.close(); cleanup(); } };
}

export function addUser(store: Store, name: string, role: UserRole = 'interviewer'): { user: User; token: string } {
  const token = generateToken('staff');
  const user = store.users.create({ name, role, tokenHash: hashToken(token) });
  return { user, token };
}

export function addSession(store: Store, createdBy: string, o: { state?: SessionState; expiresAt?: Date } = {}): { session: Session; invite: string } {
  const invite = generateToken('candidate');
  const session = store.sessions.insert({
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
