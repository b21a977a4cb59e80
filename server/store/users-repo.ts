import { AppError } from '../errors.js';
import { systemClock, type Clock } from './clock.js';
import { newId } from './ids.js';
import { isUniqueViolation, type SqlClient } from './sql.js';

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
  constructor(private readonly sql: SqlClient, private readonly now: Clock = systemClock) {}

  /** Throws `VALIDATION` when the name (or, impossibly, the token) is taken. */
  async create(input: NewUser): Promise<User> {
    const id = newId();
    try {
      const row = await this.sql.one<UserRow>(
        `INSERT INTO users (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
        [id, input.name, input.role, input.tokenHash, this.now().getTime()],
      );
      return toUser(row!);
    } catch (e) {
      if (isUniqueViolation(e, 'users', 'name')) throw new AppError('VALIDATION', `a user named "${input.name}" already exists`, { cause: e });
      if (isUniqueViolation(e, 'users', 'token_hash')) throw new AppError('VALIDATION', 'that token is already in use', { cause: e });
      throw e;
    }
  }

  /**
   * Deletes a user that nothing refers to yet (first-start bootstrap undoing itself when
   * the admin token file cannot be written). Returns whether it was there.
   */
  async delete(id: string): Promise<boolean> {
    return (await this.sql.run('DELETE FROM users WHERE id = ?', [id])) === 1;
  }

  async get(id: string): Promise<User | undefined> {
    const row = await this.sql.one<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = ?`, [id]);
    return row && toUser(row);
  }

  async findByName(name: string): Promise<User | undefined> {
    const row = await this.sql.one<UserRow>(`SELECT ${COLUMNS} FROM users WHERE name = ?`, [name]);
    return row && toUser(row);
  }

  /**
   * Looks a user up by token hash. An index lookup is fine here: timing can at most
   * reveal something about a hash of a 256-bit token, which does not help forge one.
   */
  async findByTokenHash(tokenHash: string): Promise<User | undefined> {
    const row = await this.sql.one<UserRow>(`SELECT ${COLUMNS} FROM users WHERE token_hash = ?`, [tokenHash]);
    return row && toUser(row);
  }

  /** Replaces a user's token (rotation). Returns false for an unknown user. */
  async setTokenHash(id: string, tokenHash: string): Promise<boolean> {
    return (await this.sql.run('UPDATE users SET token_hash = ? WHERE id = ?', [tokenHash, id])) === 1;
  }

  async list(): Promise<User[]> {
    return (await this.sql.all<UserRow>(`SELECT ${COLUMNS} FROM users ORDER BY created_at, name`)).map(toUser);
  }

  async count(): Promise<number> {
    return (await this.sql.one<{ n: number }>('SELECT COUNT(*) AS n FROM users'))!.n;
  }
}

function toUser(r: UserRow): User {
  return { id: r.id, name: r.name, role: r.role, createdAt: new Date(r.created_at) };
}
