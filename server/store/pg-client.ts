import pg from 'pg';
import { AppError, describeError } from '../errors.js';
import type { SqlClient } from './sql.js';

/** PostgreSQL's type id for BIGINT (times in ms, identity ids, COUNT(*)). */
const INT8_OID = 20;

/**
 * BIGINT comes back as a JS number, not pg's default string: every BIGINT here is an
 * epoch-millisecond time, a row id or a count, all far below 2^53.
 */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export interface PgPoolOptions {
  /** At most this many connections (default 10). */
  max?: number;
  /** Called when an idle connection fails (the server restarted); the pool drops it and reconnects on demand. */
  onIdleError?: (e: Error) => void;
}

/** `host:port/database as user`, for messages: never the password. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default database)';
    const user = u.username ? ` as ${decodeURIComponent(u.username)}` : '';
    return `${u.hostname || 'localhost'}:${u.port || '5432'}/${db}${user}`;
  } catch {
    return '(an unparsable URL)';
  }
}

/**
 * A pool for `url` that has answered one query. Throws CONFIG_INVALID naming the server
 * (host, port, database, user; never the password) when it does not answer.
 */
export async function openPgPool(url: string, options: PgPoolOptions = {}): Promise<pg.Pool> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('CONFIG_INVALID', 'OPSLAB_DATABASE_URL is not a URL: expected postgres://user:password@host:port/database');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new AppError('CONFIG_INVALID', `OPSLAB_DATABASE_URL must start with postgres:// or postgresql://, not ${parsed.protocol}//`);
  }
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, connectionTimeoutMillis: 10_000, types });
  pool.on('error', (e) => options.onIdleError?.(e));
  try {
    await pool.query('SELECT 1');
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new AppError('CONFIG_INVALID', `PostgreSQL at ${describeDatabaseUrl(url)} does not answer: ${redact(describeError(e), parsed)}`, { cause: e });
  }
  return pool;
}

function redact(message: string, url: URL): string {
  const password = decodeURIComponent(url.password);
  return password ? message.split(password).join('***') : message;
}

/** `?` placeholders (outside quotes) to PostgreSQL's `$1, $2, ...`; cached per statement text. */
const converted = new Map<string, string>();
export function toPgPlaceholders(sql: string): string {
  let out = converted.get(sql);
  if (out !== undefined) return out;
  let n = 0;
  let quoted = false;
  out = '';
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === '?' && !quoted ? `$${++n}` : ch;
  }
  if (converted.size < 1000) converted.set(sql, out);
  return out;
}

type Queryable = pg.Pool | pg.PoolClient;

/** SqlClient over a `pg` pool; inside a transaction, over the one connection holding it. */
export class PgClient implements SqlClient {
  readonly dialect = 'postgres' as const;

  constructor(readonly pool: pg.Pool, private readonly conn: Queryable = pool, private readonly inTransaction = false) {}

  async one<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.query<T>(sql, params)).rows[0];
  }

  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return (await this.query<T>(sql, params)).rows;
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    const conn = await this.pool.connect();
    try {
      await conn.query('BEGIN');
      const result = await fn(new PgClient(this.pool, conn, true));
      await conn.query('COMMIT');
      return result;
    } catch (e) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      conn.release();
    }
  }

  async close(): Promise<void> {
    if (!this.inTransaction) await this.pool.end();
  }

  private query<T>(sql: string, params: readonly unknown[]): Promise<pg.QueryResult<T & pg.QueryResultRow>> {
    return this.conn.query<T & pg.QueryResultRow>(toPgPlaceholders(sql), params as unknown[]);
  }
}
