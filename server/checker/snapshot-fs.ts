/**
 * File-system helpers of the snapshot extractor: mode changes that never follow a link,
 * and removal of a tree whose directories were made read-only.
 */
import { constants as fsc } from 'node:fs';
import { chmod, open, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/** Sets a directory's mode through a descriptor opened without following links. */
export async function chmodDirectory(dir: string, mode: number): Promise<void> {
  const handle = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
  try {
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/**
 * `rm -rf` of a snapshot: directories are made writable again first (top down, only
 * real directories: `readdir` reports links as links), then everything is removed.
 * A missing tree is not an error.
 */
export async function removeTree(root: string): Promise<void> {
  await makeWritable(root);
  await rm(root, { recursive: true, force: true, maxRetries: 2 });
}

async function makeWritable(dir: string): Promise<void> {
  try {
    await chmodDirectory(dir, 0o700);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return;
    // Not ours to open (should not happen in our own temp dir): let rm report it.
    await chmod(dir, 0o700).catch(() => undefined);
  }
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory()) await makeWritable(path.join(dir, entry.name));
  }
}
