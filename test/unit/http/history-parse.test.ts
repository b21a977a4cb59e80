/** Parsing git's output for the report's commits, including fields the candidate controls. */
import { describe, expect, it } from 'vitest';
import { parseLog, parseNumstat } from '../../../server/sessions/history.js';

const H1 = 'a'.repeat(40);
const H2 = 'b'.repeat(40);

describe('parseLog', () => {
  it('reads commits with their numstat', () => {
    const out =
      `\x1e${H1}\x1f2030-01-01T10:00:00+02:00\x1fAda\x1fada@example.com\x1fRemove\0\n0\t1\ta.txt\0` +
      `\x1e${H2}\x1f2030-01-01T09:00:00+00:00\x1fAda L\x1fa@x\x1fAdd things\0\n1\t0\ta.txt\0-\t-\tbin.dat\0` +
      `\x1e${'c'.repeat(40)}\x1f2030-01-01T08:00:00Z\x1fM\x1fm@x\x1fMerge\0`;
    expect(parseLog(out)).toEqual([
      { hash: H1, date: '2030-01-01T08:00:00.000Z', author: 'Ada', email: 'ada@example.com', subject: 'Remove', files: [{ path: 'a.txt', additions: 0, deletions: 1 }] },
      {
        hash: H2,
        date: '2030-01-01T09:00:00.000Z',
        author: 'Ada L',
        email: 'a@x',
        subject: 'Add things',
        files: [
          { path: 'a.txt', additions: 1, deletions: 0 },
          { path: 'bin.dat', additions: null, deletions: null },
        ],
      },
      { hash: 'c'.repeat(40), date: '2030-01-01T08:00:00.000Z', author: 'M', email: 'm@x', subject: 'Merge', files: [] },
    ]);
  });

  it('keeps separators inside a subject in the subject, and drops a record cut short', () => {
    const out = `\x1e${H1}\x1f2030-01-01T00:00:00Z\x1fEve\x1fe@x\x1fsneaky \x1e not a record \x1f still subject\0\n1\t1\tf\0\x1e${H2}\x1f2030`;
    const commits = parseLog(out, true);
    expect(commits).toHaveLength(1);
    expect(commits[0]?.subject).toBe('sneaky \x1e not a record \x1f still subject');
  });
});

describe('parseNumstat', () => {
  it('keeps paths with tabs and newlines whole', () => {
    expect(parseNumstat('3\t0\td/we ird\tname.txt\0\n2\t2\tnew\nline\0')).toEqual([
      { path: 'd/we ird\tname.txt', additions: 3, deletions: 0 },
      { path: 'new\nline', additions: 2, deletions: 2 },
    ]);
  });
});
