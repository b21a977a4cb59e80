import type pg from 'pg';
import { AppError } from '../errors.js';
import { assertOrdered, type Migration, type MigrationResult } from './migrations.js';
import { describeDatabaseUrl } from './pg-client.js';

/**
 * The PostgreSQL schema's history: the same versions, names, tables, columns and
 * constraints as the SQLite list (migrations.ts), so a schema version means one thing in
 * both. Times are BIGINT epoch milliseconds, as in SQLite, rather than TIMESTAMPTZ: the
 * repositories are written once for both databases and compare times as numbers they
 * pass in (from the injected clock), and ms is exactly what SQLite stores, so a store
 * can be copied between the two without conversion. JSON stays TEXT (checked to parse
 * as jsonb) so it reads back byte for byte as written. Forward-only, like SQLite's.
 */
export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      CREATE TABLE users (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        role       TEXT NOT NULL CHECK (role IN ('admin', 'interviewer', 'author')),
        token_hash TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL
      );

      CREATE TABLE sessions (
        id               TEXT PRIMARY KEY,
        lab_id           TEXT NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('starting', 'ready', 'ended', 'failed', 'expired')),
        candidate_name   TEXT NOT NULL,
        candidate_email  TEXT,
        duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
        created_at       BIGINT NOT NULL,
        ready_at         BIGINT,
        expires_at       BIGINT,
        ended_at         BIGINT,
        error            TEXT,
        invite_hash      TEXT NOT NULL UNIQUE,
        created_by       TEXT NOT NULL REFERENCES users(id),
        sandbox          TEXT CHECK (sandbox IS NULL OR sandbox::jsonb IS NOT NULL),
        term_cols        INTEGER NOT NULL DEFAULT 80 CHECK (term_cols > 0),
        term_rows        INTEGER NOT NULL DEFAULT 24 CHECK (term_rows > 0)
      );
      CREATE INDEX sessions_by_state ON sessions(state);
      CREATE INDEX sessions_by_created ON sessions(created_at);

      CREATE TABLE terminal_tickets (
        hash       TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        role       TEXT NOT NULL CHECK (role IN ('candidate', 'observer')),
        writable   SMALLINT NOT NULL CHECK (writable IN (0, 1)),
        user_id    TEXT REFERENCES users(id),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at    BIGINT
      );
      CREATE INDEX terminal_tickets_by_expiry ON terminal_tickets(expires_at);
      CREATE INDEX terminal_tickets_by_session ON terminal_tickets(session_id);

      CREATE TABLE session_events (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        at         BIGINT NOT NULL,
        type       TEXT NOT NULL,
        data       TEXT NOT NULL CHECK (data::jsonb IS NOT NULL)
      );
      CREATE INDEX session_events_by_session ON session_events(session_id, id);
    `,
  },
  {
    version: 2,
    name: 'grades',
    sql: `
      CREATE TABLE grades (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        graded_at   BIGINT NOT NULL,
        trigger     TEXT NOT NULL CHECK (trigger IN ('candidate', 'staff', 'end', 'expiry', 'test')),
        score       INTEGER NOT NULL,
        max_score   INTEGER NOT NULL,
        report      TEXT NOT NULL CHECK (report::jsonb IS NOT NULL)
      );
      CREATE INDEX grades_by_session ON grades(session_id, id);
      ALTER TABLE sessions ADD COLUMN start_commit TEXT;
    `,
  },
  {
    version: 3,
    name: 'web logins and notes',
    sql: `
      CREATE TABLE web_logins (
        hash       TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX web_logins_by_expiry ON web_logins(expires_at);
      CREATE INDEX web_logins_by_user ON web_logins(user_id);

      CREATE TABLE session_notes (
        id         TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL REFERENCES users(id),
        text       TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE (session_id, user_id)
      );
    `,
  },
  {
    version: 4,
    name: 'audit log',
    sql: `
      CREATE TABLE audit_log (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at         BIGINT NOT NULL,
        actor_id   TEXT NOT NULL,
        actor_name TEXT NOT NULL,
        actor_role TEXT NOT NULL,
        action     TEXT NOT NULL,
        session_id TEXT,
        client     TEXT,
        detail     TEXT NOT NULL CHECK (detail::jsonb IS NOT NULL)
      );
      CREATE INDEX audit_by_session ON audit_log(session_id, id);
      CREATE INDEX audit_by_actor ON audit_log(actor_id, id);
    `,
  },
  {
    version: 5,
    name: 'terminal leases',
    sql: `
      CREATE TABLE terminal_leases (
        session_id  TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        replica_id  TEXT NOT NULL,
        address     TEXT NOT NULL,
        generation  INTEGER NOT NULL CHECK (generation > 0),
        acquired_at BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL
      );
      CREATE INDEX terminal_leases_by_replica ON terminal_leases(replica_id);
      CREATE INDEX terminal_leases_by_expiry ON terminal_leases(expires_at);
    `,
  },
];

/**
 * Key of the session-level advisory lock the migrator holds: replicas starting at once
 * queue on it, and each finds the work done by the first. ("opslab" in ASCII.)
 */
export const MIGRATION_LOCK_KEY = 0x6f70736c6162;

/**
 * Applies the pending PostgreSQL migrations under the advisory lock, each in its own
 * transaction (PostgreSQL's DDL is transactional, so a failed one leaves nothing
 * behind), and records each in `schema_migrations`. A database written by a newer
 * opslab is refused rather than guessed at.
 */
export async function migratePostgres(pool: pg.Pool, migrations: readonly Migration[] = PG_MIGRATIONS, url?: string): Promise<MigrationResult> {
  assertOrdered(migrations);
  const latest = migrations.at(-1)?.version ?? 0;
  const conn = await pool.connect();
  try {
    await conn.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at BIGINT NOT NULL
      )`);
      const { rows } = await conn.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
      const current = rows[0]?.v ?? 0;
      if (current > latest) {
        throw new AppError(
          'CONFIG_INVALID',
          `database ${url === undefined ? '' : `${describeDatabaseUrl(url)} `}has schema version ${current}, but this opslab knows only up to ${latest}: ` +
            'it was written by a newer opslab. Upgrade opslab, or point OPSLAB_DATABASE_URL at another database.',
        );
      }
      const applied: number[] = [];
      for (const m of migrations) {
        if (m.version <= current) continue;
        await conn.query('BEGIN');
        try {
          await conn.query(m.sql);
          await conn.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
          await conn.query('COMMIT');
        } catch (e) {
          await conn.query('ROLLBACK').catch(() => undefined);
          throw new AppError('CONFIG_INVALID', `PostgreSQL migration ${m.version} (${m.name}) failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        }
        applied.push(m.version);
      }
      return { applied, version: Math.max(current, latest) };
    } finally {
      await conn.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    conn.release();
  }
}

/** The schema version recorded in the PostgreSQL database (0 for a fresh one). */
export async function pgSchemaVersion(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (rows[0]?.t == null) return 0;
  const v = await pool.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  return v.rows[0]?.v ?? 0;
}
