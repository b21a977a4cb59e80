import { randomBytes } from 'node:crypto';
import type { SqlClient } from './sql.js';

const INSTALLATION_ID = 'installation_id';

/** Small key/value facts about this installation. */
export class MetaRepo {
  constructor(private readonly sql: SqlClient) {}

  async get(key: string): Promise<string | undefined> {
    const row = await this.sql.one<{ value: string }>('SELECT value FROM meta WHERE key = ?', [key]);
    return row?.value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.sql.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  /**
   * This installation's id, created on first call and the same forever after. Labels
   * the containers this installation owns, so two installations on one engine never
   * reap each other's sandboxes. 32 lowercase hex characters. On PostgreSQL every
   * replica shares it: they are one installation.
   */
  async installationId(): Promise<string> {
    // DO NOTHING on conflict: two processes racing on a fresh database agree on one id.
    await this.sql.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [INSTALLATION_ID, randomBytes(16).toString('hex')]);
    return (await this.get(INSTALLATION_ID)) as string;
  }
}
