/**
 * Keeps the candidate's workspace when a session ends: taken through the same bounded,
 * safe snapshot the checker uses (so a 1 GB file or a link to /etc/shadow is left out),
 * then packed as a .tar.gz for interviewers to download.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { takeSnapshot } from '../checker/snapshot.js';
import type { SandboxDriver, SandboxRef } from '../sandbox/driver.js';
import { packDirectory } from '../sandbox/tar-pack.js';

export async function archiveWorkspace(driver: SandboxDriver, ref: SandboxRef, file: string): Promise<void> {
  const snapshot = await takeSnapshot(await driver.archive(ref), {});
  try {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.partial`;
    await pipeline(packDirectory(snapshot.dir, { uid: 1000, gid: 1000 }), createGzip(), fs.createWriteStream(tmp, { mode: 0o600 }));
    await fs.promises.rename(tmp, file);
  } finally {
    await snapshot.dispose();
  }
}
