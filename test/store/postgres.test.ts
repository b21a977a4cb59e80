// The repository contract against a real PostgreSQL (scripts/setup/postgres.sh), plus
// what only PostgreSQL has: many connections at once, and migrations under an advisory lock.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openPgPool } from '../../server/store/pg-client.js';
import { migratePostgres, pgSchemaVersion, PG_MIGRATIONS } from '../../server/store/pg-migrations.js';
import { MIGRATIONS } from '../../server/store/migrations.js';
import { openPostgresStore, openStore } from '../../server/store/store.js';
import { defineStoreContract } from './contract.js';
import { freshSchema, pgHarness } from './pg-harness.js';
import { addSession, addUser, manualClock } from '../unit/store/fixtures.js';

defineStoreContract('postgres', pgHarness);

describe('postgres: concurrency across replicas', () => {
  it('spends a ticket exactly once when 8 replicas each try 4 times at once', async () => {
    const { url, drop } = await freshSchema();
    const clock = manualClock();
    const replicas = await Promise.all(Array.from({ length: 8 }, () => openPostgresStore(url, { now: clock, max: 4 })));
    try {
      const [first] = replicas as [(typeof replicas)[0]];
      const { user } = await addUser(first, 'alice');
      const { session } = await addSession(first, user.id);
      for (let round = 0; round < 5; round++) {
        const hash = `ticket-${round}`;
        await first.tickets.insert({ hash, sessionId: session.id, role: 'candidate', write: true, expiresAt: new Date(clock().getTime() + 30_000) });
        const won = await Promise.all(replicas.flatMap((r) => Array.from({ length: 4 }, () => r.tickets.consume(hash, clock(), session.id))));
        expect(won.filter((w) => w !== null)).toHaveLength(1);
      }
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
      await drop();
    }
  });

  it('gives each lease to one of 6 replicas racing for 10 sessions at once', async () => {
    const { url, drop } = await freshSchema();
    const clock = manualClock();
    const replicas = await Promise.all(Array.from({ length: 6 }, () => openPostgresStore(url, { now: clock, max: 4 })));
    try {
      const [first] = replicas as [(typeof replicas)[0]];
      const { user } = await addUser(first, 'alice');
      const ids = await Promise.all(Array.from({ length: 10 }, async () => (await addSession(first, user.id)).session.id));
      const results = await Promise.all(
        ids.flatMap((id) => replicas.map((r, i) => r.leases.acquire(id, `replica-${i}`, `http://r${i}`, 5_000).then((l) => ({ id, l })))),
      );
      for (const id of ids) {
        const winners = results.filter((r) => r.id === id && r.l !== null);
        expect(winners).toHaveLength(1);
        expect((await first.leases.get(id))?.replicaId).toBe(winners[0]?.l?.replicaId);
      }
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
      await drop();
    }
  });
});

describe('postgres: migrations', () => {
  it('migrate once, then find nothing to do; the schema matches SQLite version for version', async () => {
    const { url, drop } = await freshSchema();
    const pool = await openPgPool(url);
    try {
      expect(await pgSchemaVersion(pool)).toBe(0);
      expect(await migratePostgres(pool)).toEqual({ applied: PG_MIGRATIONS.map((m) => m.version), version: PG_MIGRATIONS.length });
      expect(await migratePostgres(pool)).toEqual({ applied: [], version: PG_MIGRATIONS.length });
      expect(PG_MIGRATIONS.map((m) => [m.version, m.name])).toEqual(MIGRATIONS.map((m) => [m.version, m.name]));
      const { rows } = await pool.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name',
      );
      expect(rows.map((r) => r.table_name)).toEqual([
        'audit_log', 'grades', 'meta', 'schema_migrations', 'session_events', 'session_notes', 'sessions', 'terminal_leases', 'terminal_tickets', 'users', 'web_logins',
      ]);
    } finally {
      await pool.end();
      await drop();
    }
  });

  it('lets 5 replicas starting at once migrate one fresh database: each migration applied exactly once', async () => {
    const { url, drop } = await freshSchema();
    const pools = await Promise.all(Array.from({ length: 5 }, () => openPgPool(url, { max: 1 })));
    try {
      const results = await Promise.all(pools.map((p) => migratePostgres(p)));
      expect(results.flatMap((r) => r.applied)).toEqual(PG_MIGRATIONS.map((m) => m.version));
      expect(results.every((r) => r.version === PG_MIGRATIONS.length)).toBe(true);
      const { rows } = await pools[0]!.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM schema_migrations');
      expect(rows[0]?.n).toBe(PG_MIGRATIONS.length);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await drop();
    }
  });

  it('rolls a failed migration back and refuses a database from a newer opslab', async () => {
    const { url, drop } = await freshSchema();
    const pool = await openPgPool(url);
    try {
      await migratePostgres(pool);
      const broken = { version: PG_MIGRATIONS.length + 1, name: 'broken', sql: 'CREATE TABLE half (id INT); THIS IS NOT SQL' };
      await expect(migratePostgres(pool, [...PG_MIGRATIONS, broken])).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      const { rows } = await pool.query<{ t: string | null }>("SELECT to_regclass('half')::text AS t");
      expect(rows[0]?.t).toBeNull();
      expect(await pgSchemaVersion(pool)).toBe(PG_MIGRATIONS.length);

      await pool.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, $1, 0)', ['from the future']);
      await expect(openPostgresStore(url)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('newer opslab') as unknown });
    } finally {
      await pool.end();
      await drop();
    }
  });
});

describe('postgres: configuration errors', () => {
  it('names host, port and database, never the password, when the server does not answer', async () => {
    const url = 'postgres://someone:s3cret-pw@127.0.0.1:1/nowhere';
    const err = await openStore({ dataDir: '/nonexistent', store: { kind: 'postgres', url } }).then(
      () => expect.unreachable('should not connect'),
      (e: unknown) => e as Error & { code: string },
    );
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('127.0.0.1:1/nowhere');
    expect(err.message).not.toContain('s3cret-pw');
  });

  it('refuses postgres without a URL and a URL that is not postgres://', async () => {
    await expect(openStore({ dataDir: '/nonexistent', store: { kind: 'postgres' } })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(openPgPool('mysql://x@y/z')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('returns BIGINT columns as numbers', async () => {
    const { url, drop } = await freshSchema();
    const pool = await openPgPool(url);
    try {
      const { rows } = await pool.query<{ n: unknown }>('SELECT 9007199254740991::bigint AS n');
      expect(rows[0]?.n).toBe(Number.MAX_SAFE_INTEGER);
    } finally {
      await pool.end();
      await drop();
    }
  });
});

// Keep the import used when the file is read alone (types only elsewhere).
export type { pg };
