import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureAdmin, type BootstrapLogger } from '../../../server/auth/bootstrap.js';
import { Authenticator } from '../../../server/auth/principal.js';
import { testStore, type TestStore } from '../store/fixtures.js';

let t: TestStore;
let logs: Array<{ level: string; obj: object; msg?: string }>;
let printed: string[];
let logger: BootstrapLogger;
beforeEach(() => {
  t = testStore();
  logs = [];
  printed = [];
  logger = {
    info: (obj, msg) => logs.push({ level: 'info', obj, ...(msg ? { msg } : {}) }),
    warn: (obj, msg) => logs.push({ level: 'warn', obj, ...(msg ? { msg } : {}) }),
  };
});
afterEach(() => t.close());

const dataDir = () => path.join(t.dir, 'data');
const print = (s: string) => printed.push(s);

describe('ensureAdmin', () => {
  it('generates a token on first start, prints it once, writes it 0600, stores only its hash', async () => {
    const result = await ensureAdmin({ store: t.store, dataDir: dataDir(), logger, print });
    expect(result).toMatchObject({ action: 'created', tokenSource: 'generated', tokenFile: path.join(dataDir(), 'admin-token') });
    const file = path.join(dataDir(), 'admin-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^osl_s_/);
    expect(printed.join('')).toContain(token);
    expect(JSON.stringify(logs)).not.toContain(token);

    const auth = new Authenticator({ users: t.store.users, sessions: t.store.sessions });
    expect(await auth.authenticate(token)).toMatchObject({ kind: 'staff', name: 'admin', role: 'admin' });
    const raw = t.store.db.prepare('SELECT * FROM users').all();
    expect(JSON.stringify(raw)).not.toContain(token);

    // Second start: nothing happens, nothing is printed, the file is left alone.
    writeFileSync(file, 'left alone');
    expect(await ensureAdmin({ store: t.store, dataDir: dataDir(), logger, print })).toEqual({ action: 'none', userCount: 1, configuredTokenIgnored: false });
    expect(printed).toHaveLength(1);
    expect(readFileSync(file, 'utf8')).toBe('left alone');
    expect(await t.store.users.count()).toBe(1);
  });

  it('uses the configured token without printing or writing it', async () => {
    const adminToken = 'configured-admin-token-0123456789';
    const result = await ensureAdmin({ store: t.store, dataDir: dataDir(), adminToken, logger, print });
    expect(result).toMatchObject({ action: 'created', tokenSource: 'config' });
    expect(printed).toEqual([]);
    expect(() => statSync(path.join(dataDir(), 'admin-token'))).toThrow();
    const auth = new Authenticator({ users: t.store.users, sessions: t.store.sessions });
    expect(await auth.authenticate(adminToken)).toMatchObject({ kind: 'staff', role: 'admin' });
    expect(JSON.stringify(t.store.db.prepare('SELECT * FROM users').all())).not.toContain(adminToken);

    expect(await ensureAdmin({ store: t.store, dataDir: dataDir(), adminToken, logger, print })).toMatchObject({ action: 'none', configuredTokenIgnored: false });
  });

  it('warns when a configured token is ignored because users exist', async () => {
    await ensureAdmin({ store: t.store, dataDir: dataDir(), logger, print });
    const result = await ensureAdmin({ store: t.store, dataDir: dataDir(), adminToken: 'another-admin-token-0123456789', logger, print });
    expect(result).toMatchObject({ action: 'none', configuredTokenIgnored: true });
    expect(logs.some((l) => l.level === 'warn')).toBe(true);
  });

  it('creates no user when the token file cannot be written', async () => {
    const blocker = path.join(t.dir, 'blocker');
    writeFileSync(blocker, 'a file where the data dir should be');
    await expect(ensureAdmin({ store: t.store, dataDir: path.join(blocker, 'data'), logger, print })).rejects.toThrow();
    expect(await t.store.users.count()).toBe(0);
    expect(printed).toEqual([]);
  });
});
