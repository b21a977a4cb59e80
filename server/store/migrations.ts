import type { Db } from './db.js';
import { AppError } from '../errors.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The schema's history, oldest first. Forward-only: never edit or reorder a migration
 * that has shipped; append a new one. Times are INTEGER epoch milliseconds (UTC).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      CREATE TABLE users (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        role       TEXT NOT NULL CHECK (role IN ('admin', 'interviewer', 'author')),
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE sessions (
        id               TEXT PRIMARY KEY,
        lab_id           TEXT NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('starting', 'ready', 'ended', 'failed', 'expired')),
        candidate_name   TEXT NOT NULL,
        candidate_email  TEXT,
        duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
        created_at       INTEGER NOT NULL,
        ready_at         INTEGER,
        expires_at       INTEGER,
        ended_at         INTEGER,
        error            TEXT,
        invite_hash      TEXT NOT NULL UNIQUE,
        created_by       TEXT NOT NULL REFERENCES users(id),
        sandbox          TEXT CHECK (sandbox IS NULL OR json_valid(sandbox)),
        term_cols        INTEGER NOT NULL DEFAULT 80 CHECK (term_cols > 0),
        term_rows        INTEGER NOT NULL DEFAULT 24 CHECK (term_rows > 0)
      ) STRICT;
      CREATE INDEX sessions_by_state ON sessions(state);
      CREATE INDEX sessions_by_created ON sessions(created_at);

      CREATE TABLE terminal_tickets (
        hash       TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        role       TEXT NOT NULL CHECK (role IN ('candidate', 'observer')),
        writable   INTEGER NOT NULL CHECK (writable IN (0, 1)),
        user_id    TEXT REFERENCES users(id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
      ) STRICT;
      CREATE INDEX terminal_tickets_by_expiry ON terminal_tickets(expires_at);
      CREATE INDEX terminal_tickets_by_session ON terminal_tickets(session_id);

      CREATE TABLE session_events (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        at         INTEGER NOT NULL,
        type       TEXT NOT NULL,
        data       TEXT NOT NULL CHECK (json_valid(data))
      ) STRICT;
      CREATE INDEX session_events_by_session ON session_events(session_id, id);
    `,
  },
  {
    version: 2,
    name: 'grades',
    sql: `
      CREATE TABLE grades (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        graded_at   INTEGER NOT NULL,
        trigger     TEXT NOT NULL CHECK (trigger IN ('candidate', 'staff', 'end', 'expiry', 'test')),
        score       INTEGER NOT NULL,
        max_score   INTEGER NOT NULL,
        report      TEXT NOT NULL CHECK (json_valid(report))
      ) STRICT;
      CREATE INDEX grades_by_session ON grades(session_id, id);
      ALTER TABLE sessions ADD COLUMN start_commit TEXT;
    `,
  },
  {
    version: 3,
    name: 'web logins and notes',
    sql: `
      -- Browser sign-ins (POST /api/auth/login): the cookie holds a random id, stored
      -- here hashed. token_hash is the user's token hash at sign-in, so rotating the
      -- token ends every browser session made with the old one.
      CREATE TABLE web_logins (
        hash       TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX web_logins_by_expiry ON web_logins(expires_at);
      CREATE INDEX web_logins_by_user ON web_logins(user_id);

      -- Interviewers' private notes: one per staff user per session, last write wins.
      CREATE TABLE session_notes (
        id         TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL REFERENCES users(id),
        text       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (session_id, user_id)
      ) STRICT;
    `,
  },
  {
    version: 4,
    name: 'audit log',
    sql: `
      -- What staff did, append-only: who, what, to which session, from where. Rows are
      -- never updated or deleted by opslab; session_id is kept as text (no foreign key)
      -- so the trail outlives whatever it points at.
      CREATE TABLE audit_log (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        at         INTEGER NOT NULL,
        actor_id   TEXT NOT NULL,
        actor_name TEXT NOT NULL,
        actor_role TEXT NOT NULL,
        action     TEXT NOT NULL,
        session_id TEXT,
        client     TEXT,
        detail     TEXT NOT NULL CHECK (json_valid(detail))
      ) STRICT;
      CREATE INDEX audit_by_session ON audit_log(session_id, id);
      CREATE INDEX audit_by_actor ON audit_log(actor_id, id);
    `,
  },
  {
    version: 5,
    name: 'terminal leases',
    sql: `
      -- Which replica serves a session's terminal (server/store/leases-repo.ts). One
      -- replica on SQLite holds them all; the table exists so both stores share a schema.
      CREATE TABLE terminal_leases (
        session_id  TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        replica_id  TEXT NOT NULL,
        address     TEXT NOT NULL,
        generation  INTEGER NOT NULL CHECK (generation > 0),
        acquired_at INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX terminal_leases_by_replica ON terminal_leases(replica_id);
      CREATE INDEX terminal_leases_by_expiry ON terminal_leases(expires_at);
    `,
  },
];

export interface MigrationResult {
  /** Versions applied by this call, in order (empty when already up to date). */
  applied: number[];
  /** The schema version after this call. */
  version: number;
}

/**
 * Applies the pending migrations in one IMMEDIATE transaction (so two processes opening
 * the same file cannot both apply them) and records each in `schema_migrations`.
 * A database written by a newer opslab is refused rather than guessed at.
 */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): MigrationResult {
  assertOrdered(migrations);
  const latest = migrations.at(-1)?.version ?? 0;
  const run = db.transaction((): MigrationResult => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`);
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    const current = row.v ?? 0;
    if (current > latest) {
      throw new AppError(
        'CONFIG_INVALID',
        `database ${db.name} has schema version ${current}, but this opslab knows only up to ${latest}: ` +
          'it was written by a newer opslab. Upgrade opslab, or point OPSLAB_DATA_DIR at another directory.',
      );
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
      applied.push(m.version);
    }
    return { applied, version: Math.max(current, latest) };
  });
  return run.immediate();
}

/** The schema version recorded in the database (0 for a fresh file). */
export function schemaVersion(db: Db): number {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!exists) return 0;
  return (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
}

export function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list is out of order at index ${i} (version ${m.version})`);
  });
}
