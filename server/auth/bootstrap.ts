import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAppError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { User } from '../store/users-repo.js';
import { generateToken, hashToken } from './tokens.js';

/** The slice of a pino logger bootstrap uses. */
export interface BootstrapLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const ADMIN_USER = 'admin';
export const ADMIN_TOKEN_FILE = 'admin-token';

export interface EnsureAdminOptions {
  /** The users repository and a transaction to check-and-create in. */
  store: Pick<Store, 'users' | 'transaction'>;
  dataDir: string;
  /** `config.adminToken` (OPSLAB_ADMIN_TOKEN). */
  adminToken?: string | undefined;
  logger: BootstrapLogger;
  /** Where a generated token is shown once. Defaults to stderr, outside the structured log. */
  print?: (text: string) => void;
}

export type EnsureAdminResult =
  | { action: 'created'; user: User; tokenSource: 'config' }
  | { action: 'created'; user: User; tokenSource: 'generated'; tokenFile: string }
  /** Users exist already; `configuredTokenIgnored` when OPSLAB_ADMIN_TOKEN matches none of them. */
  | { action: 'none'; userCount: number; configuredTokenIgnored: boolean };

/**
 * First start: with no users, create `admin` with the configured token, or generate one,
 * write it to `<dataDir>/admin-token` (0600) and print it once. Otherwise do nothing.
 * The check and the insert share a transaction, and a failed file write rolls the user
 * back, so a token is never lost and two processes never both create admin (SQLite's
 * IMMEDIATE transaction serialises them; on PostgreSQL the loser's insert of the same
 * name fails, and it finds the winner's admin).
 */
export async function ensureAdmin(options: EnsureAdminOptions): Promise<EnsureAdminResult> {
  const { store, dataDir, adminToken, logger } = options;
  const users = store.users;
  const tokenFile = path.join(dataDir, ADMIN_TOKEN_FILE);

  let created: { user: User; token?: string } | null;
  try {
    created = await store.transaction(async (tx): Promise<{ user: User; token?: string } | null> => {
      if ((await tx.users.count()) > 0) return null;
      const token = adminToken ?? generateToken('staff');
      const user = await tx.users.create({ name: ADMIN_USER, role: 'admin', tokenHash: hashToken(token) });
      if (adminToken !== undefined) return { user };
      writeSecretFile(tokenFile, `${token}\n`);
      return { user, token };
    });
  } catch (e) {
    // Another replica created admin between our count and our insert.
    if (!(isAppError(e) && e.code === 'VALIDATION' && (await users.count()) > 0)) throw e;
    created = null;
  }

  if (created === null) {
    const configuredTokenIgnored = adminToken !== undefined && (await users.findByTokenHash(hashToken(adminToken))) === undefined;
    if (configuredTokenIgnored) {
      logger.warn({ setting: 'OPSLAB_ADMIN_TOKEN' }, 'OPSLAB_ADMIN_TOKEN is ignored: users exist already and none has this token');
    }
    return { action: 'none', userCount: await users.count(), configuredTokenIgnored };
  }

  if (created.token === undefined) {
    logger.info({ user: ADMIN_USER }, 'created the admin user with the configured token');
    return { action: 'created', user: created.user, tokenSource: 'config' };
  }

  const print = options.print ?? ((text: string) => process.stderr.write(text));
  print(
    [
      '',
      '=====================================================================',
      `opslab: created user "${ADMIN_USER}". Its token, shown only this once:`,
      '',
      `    ${created.token}`,
      '',
      `It is also in ${tokenFile} (mode 0600). Use it as "Authorization: Bearer <token>".`,
      '=====================================================================',
      '',
    ].join('\n'),
  );
  // The token itself stays out of the structured log, which is often shipped elsewhere.
  logger.info({ user: ADMIN_USER, tokenFile }, 'created the admin user with a generated token');
  return { action: 'created', user: created.user, tokenSource: 'generated', tokenFile };
}

/** Writes `text` to `file` with mode 0600, replacing any old file atomically. */
function writeSecretFile(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600); // in case the umask was odd; the file must never be wider
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
