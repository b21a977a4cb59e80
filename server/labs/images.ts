/**
 * Which engine image a lab's sandbox runs. `base` is the image the setup scripts build
 * (config `driver.baseImage`); other shared images and a lab's own `./image` follow the
 * content-hash tag rule of scripts/setup/lab-images.sh.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Lab } from './loader.js';

export async function resolveLabImage(lab: Pick<Lab, 'id' | 'image'>, config: Config): Promise<string> {
  if (lab.image === 'base') return config.driver.baseImage;
  throw new AppError('LAB_INVALID', `lab ${lab.id}: image "${lab.image}" is not available yet`);
}

/** The lab's `grader/` folder (trusted files the grader sees at /grader), if it has one. */
export function graderDirOf(lab: Pick<Lab, 'dir'>): string | undefined {
  const dir = path.join(lab.dir, 'grader');
  return fs.existsSync(dir) && fs.lstatSync(dir).isDirectory() ? dir : undefined;
}
