/**
 * `copyIn` for the local driver: copies a host directory's contents into the workspace.
 * Permission bits (not setuid/setgid) and modification times are kept; symlinks are
 * recreated as links and never followed, on either side: an entry already in the
 * workspace is replaced, not written through, so a planted link cannot redirect the copy.
 */
import { chmod, copyFile, lstat, mkdir, readdir, readlink, rm, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';

export async function copyDirContents(hostDir: string, destDir: string, logger?: Logger): Promise<void> {
  const top = await lstat(hostDir).catch(() => undefined);
  if (top?.isDirectory() !== true) throw new AppError('NOT_FOUND', `copyIn source ${hostDir} is not a directory`);
  await copyChildren(hostDir, destDir, logger);
}

async function copyChildren(fromDir: string, toDir: string, logger: Logger | undefined): Promise<void> {
  const names = await readdir(fromDir);
  for (const name of names) {
    await copyEntry(path.join(fromDir, name), path.join(toDir, name), logger);
  }
}

async function copyEntry(from: string, to: string, logger: Logger | undefined): Promise<void> {
  const info = await lstat(from);
  const existing = await lstat(to).catch(() => undefined);
  if (info.isDirectory()) {
    if (existing !== undefined && !existing.isDirectory()) await rm(to, { force: true });
    if (existing?.isDirectory() !== true) await mkdir(to);
    // Writable while filling; the source's mode (maybe read-only) is applied after.
    await chmod(to, 0o700);
    await copyChildren(from, to, logger);
    await chmod(to, info.mode & 0o777);
    await utimes(to, info.atime, info.mtime);
    return;
  }
  if (existing !== undefined) await rm(to, { recursive: true, force: true });
  if (info.isSymbolicLink()) {
    await symlink(await readlink(from), to);
  } else if (info.isFile()) {
    await copyFile(from, to);
    await chmod(to, info.mode & 0o777);
    await utimes(to, info.atime, info.mtime);
  } else {
    logger?.warn({ path: from }, 'copyIn skips a special file (fifo, socket or device)');
  }
}
