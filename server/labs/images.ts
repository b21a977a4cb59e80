/**
 * Which engine image a lab's sandbox runs. `base` is the image the setup scripts build
 * (config `driver.baseImage`); a shared image (`python-ml`) and a lab's own `./image`
 * are tagged with a hash of their inputs by scripts/setup/lab-images.sh, and this module
 * computes the same tag, following the rule written at the top of that script (change
 * both together; test/unit/labs/images.test.ts compares them).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Lab } from './loader.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** inputs(D): every regular file under `dir`, as "<path> <x|-> <sha256>\n", in byte order of path. */
export function inputsHash(dir: string): string {
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) files.push(child);
    }
  };
  walk('');
  files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const lines = files.map((rel) => {
    const full = path.join(dir, rel);
    const exec = (fs.statSync(full).mode & 0o111) !== 0 ? 'x' : '-';
    return `${rel} ${exec} ${sha256(fs.readFileSync(full))}\n`;
  });
  return sha256(lines.join(''));
}

function folderOf(labsDir: string, name: string): string {
  if (name === 'base') return path.join(labsDir, '_images', 'base');
  if (name.startsWith('lab-')) return path.join(labsDir, name.slice(4), 'image');
  return path.join(labsDir, '_images', name);
}

function parentOf(folder: string): string {
  const dockerfile = path.join(folder, 'Dockerfile');
  let text: string;
  try {
    text = fs.readFileSync(dockerfile, 'utf8');
  } catch {
    throw new AppError('LAB_INVALID', `${dockerfile} is missing`);
  }
  for (const line of text.split('\n')) {
    const m = /^ARG\s+BASE=opslab\/([a-z0-9][a-z0-9-]*)(:\S*)?\s*$/i.exec(line.trim());
    if (m) return m[1]!;
  }
  throw new AppError('LAB_INVALID', `${dockerfile} needs an "ARG BASE=opslab/<parent>" line before its FROM`);
}

/** hash(N) of the tag rule. */
export function imageHash(labsDir: string, name: string, seen: string[] = []): string {
  if (seen.includes(name)) throw new AppError('LAB_INVALID', `image ${name} is its own ancestor (${[...seen, name].join(' → ')})`);
  const folder = folderOf(labsDir, name);
  if (!fs.existsSync(folder)) throw new AppError('LAB_INVALID', `there is no image "${name}" (no folder ${folder})`);
  if (name === 'base') return inputsHash(folder);
  const parent = imageHash(labsDir, parentOf(folder), [...seen, name]);
  return sha256(`opslab-image-v1\nparent ${parent}\ninputs ${inputsHash(folder)}\n`);
}

export function imageTag(labsDir: string, name: string): string {
  return `opslab/${name}:${imageHash(labsDir, name).slice(0, 12)}`;
}

export function resolveLabImage(lab: Pick<Lab, 'id' | 'image' | 'dir'>, config: Config): Promise<string> {
  if (lab.image === 'base') return Promise.resolve(config.driver.baseImage);
  const labsDir = path.dirname(lab.dir);
  return Promise.resolve(imageTag(labsDir, lab.image === './image' ? `lab-${lab.id}` : lab.image));
}

/** The lab's `grader/` folder (trusted files the grader sees at /grader), if it has one. */
export function graderDirOf(lab: Pick<Lab, 'dir'>): string | undefined {
  const dir = path.join(lab.dir, 'grader');
  return fs.existsSync(dir) && fs.lstatSync(dir).isDirectory() ? dir : undefined;
}
