/**
 * The host side of sandbox disks (server/sandbox/docker-disk.ts), as tests see it: the
 * loop devices backed by image files under a folder, and cleanup of those a failed test
 * left attached. Only ever touches devices whose image is under the folder given.
 */
import { execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** Loop devices (`/dev/loopN <image>`) whose image lies under `dir`, deleted images included. */
export function loopsUnder(dir: string): string[] {
  const out = execFileSync('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE'], { encoding: 'utf8' });
  const list = (out.trim() ? JSON.parse(out) : {}) as { loopdevices?: { name: string; 'back-file': string }[] };
  return (list.loopdevices ?? [])
    .filter((d) => d['back-file'].startsWith(`${path.resolve(dir)}/`))
    .map((d) => `${d.name} ${d['back-file'].replace(/ \(deleted\)$/, '')}`);
}

/** Sandbox image files under `dir` (one folder per owner id inside), as `<owner>/<file>`; not the `.template-*` ones. */
export async function imagesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const owner of await readdir(dir).catch(() => [] as string[])) {
    for (const f of await readdir(path.join(dir, owner)).catch(() => [] as string[])) if (!f.startsWith('.')) out.push(`${owner}/${f}`);
  }
  return out.sort();
}

/** Detaches what a failed test left attached under `dir`. */
export function detachLoopsUnder(dir: string): void {
  for (const loop of loopsUnder(dir)) {
    try {
      execFileSync('losetup', ['--detach', loop.split(' ')[0] as string]);
    } catch {
      // gone already
    }
  }
}
