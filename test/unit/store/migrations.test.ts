import { statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../server/errors.js';
import { openDatabase } from '../../../server/store/db.js';
import { MIGRATIONS, migrate, schemaVersion, type Migration } from '../../../server/store/migrations.js';
import { MetaRepo } from '../../../server/store/meta-repo.js';
import { SqliteClient } from '../../../server/store/sqlite-client.js';
import { tempDir } from './fixtures.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const tables = (db: Database.Database) =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);

describe('openDatabase and migrations', () => {
  it('creates the schema once, in WAL mode with foreign keys on, as a 0600 file', () => {
    const file = path.join(dir, 'nested', 'opslab.db');
    const db = openDatabase(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    expect(tables(db)).toEqual(['audit_log', 'grades', 'meta', 'schema_migrations', 'session_events', 'session_notes', 'sessions', 'terminal_leases', 'terminal_tickets', 'users', 'web_logins']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    db.close();
  });

  it('is idempotent on reopen and keeps the data', async () => {
    const file = path.join(dir, 'opslab.db');
    const first = openDatabase(file);
    const id = await new MetaRepo(new SqliteClient(first)).installationId();
    first.close();

    const again = openDatabase(file, { migrate: false });
    expect(migrate(again)).toEqual({ applied: [], version: MIGRATIONS.length });
    expect((again.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(MIGRATIONS.length);
    expect(await new MetaRepo(new SqliteClient(again)).installationId()).toBe(id);
    again.close();
  });

  it('upgrades a database of an earlier version in place, keeping its rows', () => {
    const file = path.join(dir, 'opslab.db');
    const old = openDatabase(file, { migrate: false });
    migrate(old, MIGRATIONS.slice(0, 4));
    old.prepare("INSERT INTO users (id, name, role, token_hash, created_at) VALUES ('u1', 'admin', 'admin', 'h', 1)").run();
    old.close();

    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    expect(tables(db)).toContain('terminal_leases');
    expect(db.prepare('SELECT name FROM users').all()).toEqual([{ name: 'admin' }]);
    db.close();
  });

  it('applies only the pending migrations, in order', () => {
    const db = openDatabase(path.join(dir, 'opslab.db'));
    const next: Migration = { version: MIGRATIONS.length + 1, name: 'notes', sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY) STRICT' };
    expect(migrate(db, [...MIGRATIONS, next])).toEqual({ applied: [next.version], version: next.version });
    expect(tables(db)).toContain('notes');
    db.close();
  });

  it('rolls a failed migration back entirely', () => {
    const db = openDatabase(path.join(dir, 'opslab.db'));
    const broken: Migration = { version: MIGRATIONS.length + 1, name: 'broken', sql: 'CREATE TABLE half (id INTEGER); THIS IS NOT SQL' };
    expect(() => migrate(db, [...MIGRATIONS, broken])).toThrow();
    expect(tables(db)).not.toContain('half');
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    db.close();
  });

  it('refuses a database written by a newer opslab', () => {
    const file = path.join(dir, 'opslab.db');
    const db = openDatabase(file);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(999, 'from the future', Date.now());
    db.close();
    try {
      openDatabase(file);
      expect.unreachable('openDatabase should refuse');
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe('CONFIG_INVALID');
    }
  });

  it('numbers the migrations 1..n', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(() => migrate(new Database(':memory:'), [{ version: 2, name: 'gap', sql: '' }])).toThrow(/order/);
  });
});
