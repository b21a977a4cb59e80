import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

// A lab file that .gitignore hides works on the author's machine and is missing from
// every clone, so CI (and every user) gets a different lab than the author tested.
describe('lab files in git', () => {
  it('no file under labs/ is ignored by .gitignore', () => {
    const ignored = execFileSync(
      'git',
      ['ls-files', '--others', '--ignored', '--exclude-standard', '--', 'labs/'],
      { cwd: repoRoot, encoding: 'utf8' },
    )
      .split('\n')
      .filter((line) => line !== '' && !line.includes('/node_modules/'));
    expect(ignored, `ignored by .gitignore but needed by a lab: ${ignored.join(', ')}`).toEqual([]);
  });
});
