import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';

const INSTALLATION_ID = 'installation_id';

/** Small key/value facts about this installation. */
export class MetaRepo {
  constructor(readonly db: Db) {}

  get(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  set(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /**
   * This installation's id, created on first call and the same forever after. Labels
   * the containers this installation owns, so two installations on one engine never
   * reap each other's sandboxes. 32 lowercase hex characters.
   */
  installationId(): string {
    // INSERT OR IGNORE: two processes racing on a fresh database agree on one id.
    this.db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(INSTALLATION_ID, randomBytes(16).toString('hex'));
    return this.get(INSTALLATION_ID) as string;
  }
}
