import { systemClock, type Clock } from './clock.js';
import type { SqlClient } from './sql.js';
import type { User, UserRole } from './users-repo.js';

/** A browser sign-in (the `opslab_session` cookie), keyed by the hash of the cookie's value. */
export interface WebLogin {
  hash: string;
  userId: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface NewWebLogin {
  /** SHA-256 of the cookie value, never the value. */
  hash: string;
  userId: string;
  /** The user's token hash at sign-in: a later token rotation ends this sign-in. */
  tokenHash: string;
  /** How long it lasts from now. */
  ttlMs: number;
}

interface LoginRow {
  hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

interface UserLoginRow {
  id: string;
  name: string;
  role: UserRole;
  user_created_at: number;
  expires_at: number;
}

export class LoginsRepo {
  constructor(private readonly sql: SqlClient, private readonly now: Clock = systemClock) {}

  async create(input: NewWebLogin): Promise<WebLogin> {
    const now = this.now().getTime();
    const row = (await this.sql.one<LoginRow>(
      `INSERT INTO web_logins (hash, user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
       RETURNING hash, user_id, created_at, expires_at`,
      [input.hash, input.userId, input.tokenHash, now, now + input.ttlMs],
    ))!;
    return { hash: row.hash, userId: row.user_id, createdAt: new Date(row.created_at), expiresAt: new Date(row.expires_at) };
  }

  /**
   * The user signed in with this cookie hash, if the sign-in has not expired and the
   * user's token is still the one they signed in with.
   */
  async findUser(hash: string): Promise<{ user: User; expiresAt: Date } | undefined> {
    const row = await this.sql.one<UserLoginRow>(
      `SELECT u.id, u.name, u.role, u.created_at AS user_created_at, w.expires_at
         FROM web_logins w JOIN users u ON u.id = w.user_id AND u.token_hash = w.token_hash
        WHERE w.hash = ? AND w.expires_at > ?`,
      [hash, this.now().getTime()],
    );
    if (!row) return undefined;
    return {
      user: { id: row.id, name: row.name, role: row.role, createdAt: new Date(row.user_created_at) },
      expiresAt: new Date(row.expires_at),
    };
  }

  /** Ends one sign-in. Returns whether there was one. */
  async delete(hash: string): Promise<boolean> {
    return (await this.sql.run('DELETE FROM web_logins WHERE hash = ?', [hash])) === 1;
  }

  /** Ends every sign-in of a user. Returns how many. */
  deleteForUser(userId: string): Promise<number> {
    return this.sql.run('DELETE FROM web_logins WHERE user_id = ?', [userId]);
  }

  /** Deletes sign-ins that expired before `before`. Returns how many. */
  purge(before: Date = this.now()): Promise<number> {
    return this.sql.run('DELETE FROM web_logins WHERE expires_at <= ?', [before.getTime()]);
  }
}
