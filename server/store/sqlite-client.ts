import type { Db } from './db.js';
import type { SqlClient } from './sql.js';

/**
 * SqlClient over better-sqlite3. Statements run synchronously, as before; the promise
 * only wraps the result. One connection serves the whole process, so while a
 * transaction is open (its `fn` may await other things), every other caller's statement
 * waits for it to end instead of silently joining it.
 */
export class SqliteClient implements SqlClient {
  readonly dialect = 'sqlite' as const;
  /** Settles when the open transaction ends; null when none is open. */
  private txEnded: Promise<void> | null = null;

  constructor(readonly db: Db, private readonly inTransaction = false) {}

  one<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return this.whenFree(() => {
      const stmt = this.db.prepare(sql);
      if (stmt.reader) return stmt.get(...params) as T | undefined;
      stmt.run(...params);
      return undefined;
    });
  }

  all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.whenFree(() => this.db.prepare(sql).all(...params) as T[]);
  }

  run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.whenFree(() => this.db.prepare(sql).run(...params).changes);
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    while (this.txEnded) await this.txEnded;
    let ended!: () => void;
    this.txEnded = new Promise<void>((resolve) => { ended = resolve; });
    try {
      this.db.exec('BEGIN IMMEDIATE');
      const result = await fn(new SqliteClient(this.db, true));
      this.db.exec('COMMIT');
      return result;
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw e;
    } finally {
      this.txEnded = null;
      ended();
    }
  }

  async close(): Promise<void> {
    while (this.txEnded) await this.txEnded;
    this.db.close();
  }

  /**
   * Runs `statement` once no transaction is open. The check and the statement run in the
   * same synchronous step, so no transaction can begin between them.
   */
  private async whenFree<T>(statement: () => T): Promise<T> {
    if (!this.inTransaction) while (this.txEnded) await this.txEnded;
    return statement();
  }
}
