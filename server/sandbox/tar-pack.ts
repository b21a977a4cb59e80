/**
 * Packs a host directory as a tar stream for copying into a sandbox. Entries get the
 * given owner, symlinks are stored as links (never followed), and only regular files,
 * directories and symlinks are packed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
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
      } else if (st.isFile()) {
        pack.entry({ ...common, type: 'file', size: st.size }, await fs.promises.readFile(full));
      }
    }
  };
  walk('').then(
    () => pack.finalize(),
    (e: unknown) => pack.destroy(e instanceof Error ? e : new Error(String(e))),
  );
  return pack as unknown as Readable;
}
