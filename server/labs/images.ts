/**
 * Which engine image a lab's sandbox runs. `base` is the image the setup scripts build
 * (config `driver.baseImage`); other shared images and a lab's own `./image` follow the
 * content-hash tag rule of scripts/setup/lab-images.sh.
 */
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Lab } from './loader.js';

export async function resolveLabImage(lab: Pick<Lab, 'id' | 'image'>, config: Config): Promise<string> {
  if (lab.image === 'base') return config.driver.baseImage;
  throw new AppError('LAB_INVALID', `lab ${lab.id}: image "${lab.image}" is not available yet`);
}
