import { AppError } from '../errors.js';
import { systemClock, type Clock } from '../store/clock.js';
import { LIVE_STATES, type SessionsRepo } from '../store/sessions-repo.js';
import type { UserRole, UsersRepo } from '../store/users-repo.js';
import { hashToken } from './tokens.js';

export type StaffPrincipal = { kind: 'staff'; userId: string; name: string; role: UserRole };
export type CandidatePrincipal = { kind: 'candidate'; sessionId: string };
/** Who is calling: a staff user, or the candidate of one session. */
export type Principal = StaffPrincipal | CandidatePrincipal;

/** Longer than any token we issue or accept; stops hashing megabyte headers. */
const MAX_TOKEN_LENGTH = 512;

export class Authenticator {
  private readonly users: UsersRepo;
  private readonly sessions: SessionsRepo;
  private readonly now: Clock;

  constructor(deps: { users: UsersRepo; sessions: SessionsRepo; now?: Clock }) {
    this.users = deps.users;
    this.sessions = deps.sessions;
    this.now = deps.now ?? systemClock;
  }

  /**
   * The principal a bearer token stands for, or null. Staff tokens first, then candidate
   * invites, which work only while their session is starting or ready and not past its
   * expiry (the expiry check closes the gap before the reaper marks it expired).
   */
  async authenticate(bearerToken: string | null | undefined): Promise<Principal | null> {
    if (!bearerToken || bearerToken.length > MAX_TOKEN_LENGTH) return null;
    const hash = hashToken(bearerToken);
    const user = await this.users.findByTokenHash(hash);
    if (user) return { kind: 'staff', userId: user.id, name: user.name, role: user.role };
    const session = await this.sessions.findByInviteHash(hash);
    if (!session || !LIVE_STATES.includes(session.state)) return null;
    if (session.expiresAt !== null && session.expiresAt.getTime() <= this.now().getTime()) return null;
    return { kind: 'candidate', sessionId: session.id };
  }
}

/** The staff principal, or throws UNAUTHENTICATED (nobody) / FORBIDDEN (candidate, or a role not in `roles`). */
export function requireStaff(p: Principal | null | undefined, roles?: readonly UserRole[]): StaffPrincipal {
  if (!p) throw new AppError('UNAUTHENTICATED', 'a valid token is required');
  if (p.kind !== 'staff') throw new AppError('FORBIDDEN', 'staff only');
  if (roles && !roles.includes(p.role)) throw new AppError('FORBIDDEN', `requires role ${roles.join(' or ')}`);
  return p;
}

/** Any staff user, or the candidate of this very session; otherwise throws UNAUTHENTICATED / FORBIDDEN. */
export function requireSessionAccess(p: Principal | null | undefined, sessionId: string): Principal {
  if (!p) throw new AppError('UNAUTHENTICATED', 'a valid token is required');
  if (p.kind === 'candidate' && p.sessionId !== sessionId) throw new AppError('FORBIDDEN', 'this invite is for another session');
  return p;
}
