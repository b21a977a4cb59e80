/**
 * The one seam between the repositories and a database. Every repository is written once
 * against `SqlClient`, in the SQL both SQLite (3.35+) and PostgreSQL understand (`?`
 * placeholders, `RETURNING`, `ON CONFLICT ... DO UPDATE ... WHERE`); the two adapters
 * (sqlite-client.ts, pg-client.ts) differ only in how they run a statement. Where the two
 * schemas differ, the migrations hide it: every time is epoch milliseconds in both.
 */
export type SqlDialect = 'sqlite' | 'postgres';

export interface SqlClient {
  readonly dialect: SqlDialect;
  /** The first row the statement returns, or undefined. */
  one<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  /** Every row the statement returns. */
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a statement that returns no rows; resolves to how many rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * Runs `fn` in one transaction (SQLite: BEGIN IMMEDIATE, so it holds the write lock from
   * the start) with a client bound to it: commits when `fn` resolves, rolls back when it
   * throws. Inside a transaction, `transaction` just runs `fn` in the same one.
   */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Whether `e` is a unique-constraint violation on `table.column`, from either database:
 * SQLite names it in the message ("UNIQUE constraint failed: users.name"); PostgreSQL
 * names the constraint, `<table>_<column>_key` for an inline UNIQUE.
 */
export function isUniqueViolation(e: unknown, table: string, column: string): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE') return e.message.includes(`${table}.${column}`);
  if (code === '23505') return (e as { constraint?: unknown }).constraint === `${table}_${column}_key`;
  return false;
}

/** Whether `e` is a foreign-key violation (a row naming a parent that does not exist). */
export function isForeignKeyViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

/** `?, ?, ?` for a list of n values (n > 0), for `IN (...)`. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}
