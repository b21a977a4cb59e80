// The repository contract (test/store/contract.ts) against SQLite: a fresh file per test.
// The same contract runs against PostgreSQL in test/store/postgres.test.ts.
import path from 'node:path';
import { SqliteClient } from '../../../server/store/sqlite-client.js';
import { openSqliteStore } from '../../../server/store/store.js';
import { defineStoreContract } from '../../store/contract.js';
import { manualClock, tempDir } from './fixtures.js';

defineStoreContract('sqlite', async () => {
  const { dir, cleanup } = tempDir();
  const file = path.join(dir, 'opslab.db');
  const clock = manualClock();
  const store = openSqliteStore(file, { now: clock });
  return {
    store,
    clock,
    raw: new SqliteClient(store.db),
    another: async () => openSqliteStore(file, { now: clock }),
    close: async () => {
      await store.close();
      cleanup();
    },
  };
});
