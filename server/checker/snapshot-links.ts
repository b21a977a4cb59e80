/**
 * Where the symlinks of a snapshot lead, resolved the way the kernel would, through other
 * links too. A link can pass the per-entry check (its target does not climb out of the
 * root on its own) and still leave the root through another link: with `d/up -> ..`
 * (the root, fine), `d/x -> up/../../etc/passwd` climbs out. The extractor runs this
 * over every link it kept once the tree is complete, and removes the ones that leave.
 *
 * It works on the extractor's own record of what it created, not on the disk: the
 * extractor is the only writer of its private temp dir, so the record is exact (on
 * Linux's case-sensitive, non-normalizing file systems), and no lookup costs a syscall.
 */

export type NodeKind = 'dir' | 'file' | 'symlink';

/** The tree as created, by path relative to the root (`''` is the root, a directory). */
export interface TreeModel {
  kind(relPath: string): NodeKind | undefined;
  linkTarget(relPath: string): string | undefined;
}

/**
 * `inside`: resolves to a path inside the root, or fails inside it (a missing component,
 * a file used as a directory, a cycle): harmless for a reader.
 * `outside`: some step of the resolution leaves the root (even if a later step comes back).
 * `too-complex`: the lookup budget ran out before an answer; treat as unsafe.
 */
export type LinkVerdict = 'inside' | 'outside' | 'too-complex';

type Resolution = string[] | 'outside' | 'broken' | 'too-complex';
const PENDING = Symbol('pending');

export class LinkResolver {
  private readonly memo = new Map<string, Resolution | typeof PENDING>();
  private steps = 0;

  /** `maxSteps` bounds the work over all links together (a hostile archive can chain many). */
  constructor(
    private readonly tree: TreeModel,
    private readonly maxSteps: number,
  ) {}

  verdict(linkSegments: readonly string[]): LinkVerdict {
    const r = this.resolveLink(linkSegments);
    if (r === 'outside' || r === 'too-complex') return r;
    return 'inside';
  }

  /** The canonical path (segments) a link leads to, or why it leads nowhere usable. */
  private resolveLink(segments: readonly string[]): Resolution {
    const key = segments.join('/');
    const known = this.memo.get(key);
    if (known === PENDING) return 'broken'; // a cycle: the kernel answers ELOOP
    if (known !== undefined) return known;
    this.memo.set(key, PENDING);
    const target = this.tree.linkTarget(key) ?? '';
    const result: Resolution =
      target === '' ? 'broken' : target.startsWith('/') ? 'outside' : this.walk(segments.slice(0, -1), target.split('/'));
    this.memo.set(key, result);
    return result;
  }

  /** Resolves `parts` starting in the directory `start` (canonical, inside the root). */
  private walk(start: readonly string[], parts: readonly string[]): Resolution {
    const cur = [...start];
    for (let i = 0; i < parts.length; i++) {
      if (++this.steps > this.maxSteps) return 'too-complex';
      const part = parts[i] as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (cur.length === 0) return 'outside';
        cur.pop();
        continue;
      }
      cur.push(part);
      let kind = this.tree.kind(cur.join('/'));
      if (kind === undefined) return 'broken'; // ENOENT: the lookup stops here
      if (kind === 'symlink') {
        const r = this.resolveLink(cur);
        if (!Array.isArray(r)) return r;
        cur.length = 0;
        cur.push(...r);
        kind = cur.length === 0 ? 'dir' : this.tree.kind(cur.join('/'));
      }
      // A file followed by anything (even `..` or a trailing slash) is ENOTDIR.
      if (kind === 'file' && i < parts.length - 1) return 'broken';
    }
    return cur;
  }
}
