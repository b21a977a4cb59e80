import path from 'node:path';
import { AppError } from '../errors.js';
import { AuditRepo } from './audit-repo.js';
import { systemClock, type Clock } from './clock.js';
import { openDatabase, type Db } from './db.js';
import { EventsRepo } from './events-repo.js';
import { GradesRepo } from './grades-repo.js';
import { LeasesRepo } from './leases-repo.js';
import { LoginsRepo } from './logins-repo.js';
import { MetaRepo } from './meta-repo.js';
import { NotesRepo } from './notes-repo.js';
import { openPgPool, PgClient } from './pg-client.js';
import { migratePostgres } from './pg-migrations.js';
import { SessionsRepo } from './sessions-repo.js';
import type { SqlClient, SqlDialect } from './sql.js';
import { SqliteClient } from './sqlite-client.js';
import { TicketsRepo } from './tickets-repo.js';
import { UsersRepo } from './users-repo.js';

/** Every repository over one database (or over one transaction in it). Every method is async. */
export interface Repositories {
  readonly meta: MetaRepo;
  readonly users: UsersRepo;
  readonly sessions: SessionsRepo;
  readonly tickets: TicketsRepo;
  readonly events: EventsRepo;
  readonly grades: GradesRepo;
  readonly logins: LoginsRepo;
  readonly notes: NotesRepo;
  readonly audit: AuditRepo;
  readonly leases: LeasesRepo;
}

/** The repositories over one database; built once by the composition root. */
export interface Store extends Repositories {
  readonly kind: SqlDialect;
  /** Resolves when the database answers a trivial query (readiness probes). */
  ping(): Promise<void>;
  /**
   * Runs `fn` in one transaction, with repositories bound to it: everything `fn` does
   * through `tx` commits together, or not at all if it throws. Use only `tx` inside
   * (on SQLite the store's own repositories wait for the transaction to end).
   */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The SQLite store also hands out its connection (tests and tools read it directly). */
export interface SqliteStore extends Store {
  readonly kind: 'sqlite';
  readonly db: Db;
}

function repositories(sql: SqlClient, now: Clock): Repositories {
  return {
    meta: new MetaRepo(sql),
    users: new UsersRepo(sql, now),
    sessions: new SessionsRepo(sql, now),
    tickets: new TicketsRepo(sql, now),
    events: new EventsRepo(sql, now),
    grades: new GradesRepo(sql, now),
    logins: new LoginsRepo(sql, now),
    notes: new NotesRepo(sql, now),
    audit: new AuditRepo(sql, now),
    leases: new LeasesRepo(sql, now),
  };
}

/** The store over any SqlClient. */
export function createStoreOver(sql: SqlClient, now: Clock = systemClock): Store {
  return {
    kind: sql.dialect,
    ...repositories(sql, now),
    transaction: (fn) => sql.transaction((tx) => fn(repositories(tx, now))),
    ping: async () => {
      await sql.one('SELECT 1 AS ok');
    },
    close: () => sql.close(),
  };
}

/** The store over an open (migrated) SQLite database. */
export function createStore(db: Db, now: Clock = systemClock): SqliteStore {
  return { ...createStoreOver(new SqliteClient(db), now), kind: 'sqlite', db };
}

/** Opens (and migrates) the SQLite database file and builds the repositories over it. */
export function openSqliteStore(file: string, options: { now?: Clock } = {}): SqliteStore {
  return createStore(openDatabase(file), options.now);
}

/**
 * Connects to PostgreSQL at `url`, migrates it (under an advisory lock, so replicas
 * starting together do not race) and builds the repositories over a pool. Throws
 * CONFIG_INVALID naming host, port and database (never the password) when it does not answer.
 */
export async function openPostgresStore(url: string, options: { now?: Clock; max?: number; onIdleError?: (e: Error) => void } = {}): Promise<Store> {
  const pool = await openPgPool(url, {
    ...(options.max !== undefined ? { max: options.max } : {}),
    ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
  });
  try {
    await migratePostgres(pool, undefined, url);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return createStoreOver(new PgClient(pool), options.now);
}

/** Where the store lives: `config.store`, and the data directory for SQLite's file. */
export interface StoreConfig {
  dataDir: string;
  store: { kind: SqlDialect; url?: string };
}

/** The store the configuration asks for: `<dataDir>/opslab.db`, or PostgreSQL at `store.url`. */
export async function openStore(config: StoreConfig, options: { now?: Clock; onIdleError?: (e: Error) => void } = {}): Promise<Store> {
  if (config.store.kind === 'postgres') {
    if (config.store.url === undefined) throw new AppError('CONFIG_INVALID', 'store.kind is postgres but no database URL is set: set OPSLAB_DATABASE_URL');
    return openPostgresStore(config.store.url, options);
  }
  return openSqliteStore(path.join(config.dataDir, 'opslab.db'), options.now ? { now: options.now } : {});
}
