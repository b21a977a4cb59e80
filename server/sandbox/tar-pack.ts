/**
 * Packs a host directory as a tar stream for copying into a sandbox. Entries get the
 * given owner, symlinks are stored as links (never followed), and only regular files,
 * directories and symlinks are packed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

export function packDirectory(root: string, owner: { uid: number; gid: number }): Readable {
  const pack = tar.pack();
  const walk = async (rel: string): Promise<void> => {
    const dir = path.join(root, rel);
    const entries = await fs.promises.readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const full = path.join(root, relPath);
      const st = await fs.promises.lstat(full);
      const common = { name: relPath, mode: st.mode & 0o7777, mtime: st.mtime, uid: owner.uid, gid: owner.gid };
      if (st.isSymbolicLink()) {
        pack.entry({ ...common, type: 'symlink', linkname: await fs.promises.readlink(full) });
      } else if (st.isDirectory()) {
        pack.entry({ ...common, type: 'directory' });
        await walk(relPath);
      } else if (st.isFile() && st.size === 0) {
        pack.entry({ ...common, type: 'file', size: 0 }, Buffer.alloc(0));
      } else if (st.isFile()) {
        // Streamed, one file at a time: a large file never sits in memory whole.
        await new Promise<void>((resolve, reject) => {
          const entry = pack.entry({ ...common, type: 'file', size: st.size }, (err) => (err ? reject(err) : resolve()));
          pipeline(fs.createReadStream(full, { start: 0, end: st.size - 1 }), entry).catch(reject);
        });
      }
    }
  };
  walk('').then(
    () => pack.finalize(),
    (e: unknown) => pack.destroy(e instanceof Error ? e : new Error(String(e))),
  );
  return pack as unknown as Readable;
}
