import { AppError } from '../errors.js';
import { systemClock, type Clock } from './clock.js';
import type { Db } from './db.js';
import { newId } from './ids.js';

export const USER_ROLES = ['admin', 'interviewer', 'author'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** A staff user. The token hash stays in the table: nothing outside auth needs it. */
export interface User {
  id: string;
  name: string;
  role: UserRole;
  createdAt: Date;
}

export interface NewUser {
  name: string;
  role: UserRole;
  /** SHA-256 of the token (server/auth/tokens.ts `hashToken`), never the token. */
  tokenHash: string;
}

interface UserRow {
  id: string;
  name: string;
  role: UserRole;
  created_at: number;
}

const COLUMNS = 'id, name, role, created_at';

export class UsersRepo {
  constructor(readonly db: Db, private readonly now: Clock = systemClock) {}

  /** Throws `VALIDATION` when the name (or, impossibly, the token) is taken. */
  create(input: NewUser): User {
    const id = newId();
    try {
      const row = this.db
        .prepare(`INSERT INTO users (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING ${COLUMNS}`)
        .get(id, input.name, input.role, input.tokenHash, this.now().getTime()) as UserRow;
      return toUser(row);
    } catch (e) {
      if (isUniqueViolation(e, 'users.name')) throw new AppError('VALIDATION', `a user named "${input.name}" already exists`, { cause: e });
      if (isUniqueViolation(e, 'users.token_hash')) throw new AppError('VALIDATION', 'that token is already in use', { cause: e });
      throw e;
    }
  }

  get(id: string): User | undefined {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM users WHERE id = ?`).get(id) as UserRow | undefined;
    return row && toUser(row);
  }

  findByName(name: string): User | undefined {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM users WHERE name = ?`).get(name) as UserRow | undefined;
    return row && toUser(row);
  }

  /**
   * Looks a user up by token hash. An index lookup is fine here: timing can at most
   * reveal something about a hash of a 256-bit token, which does not help forge one.
   */
  findByTokenHash(tokenHash: string): User | undefined {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM users WHERE token_hash = ?`).get(tokenHash) as UserRow | undefined;
    return row && toUser(row);
  }

  /** Replaces a user's token (rotation). Returns false for an unknown user. */
  setTokenHash(id: string, tokenHash: string): boolean {
    return this.db.prepare('UPDATE users SET token_hash = ? WHERE id = ?').run(tokenHash, id).changes === 1;
  }

  list(): User[] {
    return (this.db.prepare(`SELECT ${COLUMNS} FROM users ORDER BY created_at, name`).all() as UserRow[]).map(toUser);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }
}

function toUser(r: UserRow): User {
  return { id: r.id, name: r.name, role: r.role, createdAt: new Date(r.created_at) };
}

export function isUniqueViolation(e: unknown, column: string): boolean {
  return (
    e instanceof Error &&
    (e as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE' &&
    e.message.includes(column)
  );
}
