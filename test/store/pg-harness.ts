/**
 * A real PostgreSQL for the store tests: the server from scripts/setup/postgres.sh (or
 * OPSLAB_TEST_DATABASE_URL), and a fresh schema per test, so test files run in parallel
 * without seeing each other's rows. When the server does not answer, the tests fail
 * saying how to start it: never a silent skip.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PgClient } from '../../server/store/pg-client.js';
import { openPostgresStore, type Store } from '../../server/store/store.js';
import type { ContractHarness } from './contract.js';
import { manualClock } from '../unit/store/fixtures.js';

export const TEST_DATABASE_URL = process.env['OPSLAB_TEST_DATABASE_URL'] ?? 'postgres://opslab_test:opslab_test@127.0.0.1:15432/opslab_test';

/** The URL with its connections' search_path set to `schema`. */
export function urlWithSchema(schema: string): string {
  const u = new URL(TEST_DATABASE_URL);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await c.connect();
  } catch (e) {
    throw new Error(
      `PostgreSQL for the store tests does not answer at ${new URL(TEST_DATABASE_URL).host} (${e instanceof Error ? e.message : String(e)}): ` +
        'run `bash scripts/setup/postgres.sh` (or set OPSLAB_TEST_DATABASE_URL)',
      { cause: e },
    );
  }
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A new empty schema; `drop` removes it with everything in it. */
export async function freshSchema(): Promise<{ schema: string; url: string; drop(): Promise<void> }> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  return {
    schema,
    url: urlWithSchema(schema),
    drop: () => admin((c) => c.query(`DROP SCHEMA ${schema} CASCADE`)).then(() => undefined),
  };
}

/** A migrated store in a fresh schema, with a manual clock, for the contract. */
export async function pgHarness(): Promise<ContractHarness> {
  const { url, drop } = await freshSchema();
  const clock = manualClock();
  const store = await openPostgresStore(url, { now: clock });
  const rawPool = new pg.Pool({ connectionString: url, max: 2 });
  const opened: Store[] = [];
  return {
    store,
    clock,
    raw: new PgClient(rawPool),
    another: async () => {
      const s = await openPostgresStore(url, { now: clock, max: 3 });
      opened.push(s);
      return s;
    },
    close: async () => {
      await store.close();
      await rawPool.end();
      await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
      await drop();
    },
  };
}
