/**
 * The server and the setup script must agree on each image's tag (the rule at the top of
 * scripts/setup/lab-images.sh), or sessions would ask for images nobody built.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageTag } from '../../server/labs/images.js';
import { REPO_ROOT } from '../helpers/server-process.js';

describe('image tags', () => {
  it('are computed the same by the server and by lab-images.sh', () => {
    const out = execFileSync('bash', [path.join(REPO_ROOT, 'scripts/setup/lab-images.sh'), '--tags'], { encoding: 'utf8' });
    const rows = out
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((r) => r.length >= 2 && r[1]?.startsWith('opslab/'));
    expect(rows.length).toBeGreaterThan(0);
    for (const [name, tag] of rows) expect(imageTag(path.join(REPO_ROOT, 'labs'), name!), name).toBe(tag);
  });
});
