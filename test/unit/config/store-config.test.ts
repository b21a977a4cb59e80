import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../server/config.js';
import { AppError } from '../../../server/errors.js';

const load = (env: Record<string, string>) => loadConfig({ env, cwd: '/tmp' }).config.store;

function problem(env: Record<string, string>): string {
  try {
    loadConfig({ env, cwd: '/tmp' });
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('CONFIG_INVALID');
    return (e as AppError).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('config: store', () => {
  it('is SQLite by default, and PostgreSQL when a database URL is given', () => {
    expect(load({})).toEqual({ kind: 'sqlite' });
    expect(load({ OPSLAB_DATABASE_URL: 'postgres://u:p@db:5432/opslab' })).toEqual({ kind: 'postgres', url: 'postgres://u:p@db:5432/opslab' });
    expect(load({ OPSLAB_STORE: 'postgres', OPSLAB_DATABASE_URL: 'postgresql://db/opslab' })).toEqual({ kind: 'postgres', url: 'postgresql://db/opslab' });
    // An explicit sqlite wins over a URL left in the environment.
    expect(load({ OPSLAB_STORE: 'sqlite', OPSLAB_DATABASE_URL: 'postgres://db/opslab' })).toEqual({ kind: 'sqlite' });
  });

  it('refuses postgres without a URL, naming the variable to set', () => {
    const message = problem({ OPSLAB_STORE: 'postgres' });
    expect(message).toContain('OPSLAB_STORE');
    expect(message).toContain('OPSLAB_DATABASE_URL');
  });

  it('refuses an unknown kind and a URL that is not postgres://, without echoing the URL', () => {
    expect(problem({ OPSLAB_STORE: 'mysql' })).toContain('expected one of sqlite, postgres');
    const message = problem({ OPSLAB_DATABASE_URL: 'mysql://root:hunter2-secret@db/opslab' });
    expect(message).toContain('OPSLAB_DATABASE_URL');
    expect(message).not.toContain('hunter2-secret');
  });
});
