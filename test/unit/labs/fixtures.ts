import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A valid lab.yaml, one line per entry so tests can point at line numbers (1-based: index + 1). */
export function labYamlLines(id: string): string[] {
  return [
    `id: ${id}`,
    'title: Tiny lab',
    'summary: A lab small enough for unit tests.',
    'difficulty: easy',
    'durationMinutes: 15',
    'checks:',
    '  - id: readme',
    '    title: The README is there',
    '    points: 1',
    '    type: file',
    '    path: README.md',
  ];
}

/**
 * Writes `<labsDir>/<folder>/` with the given files (path relative to the lab folder →
 * content). `lab.yaml` and `brief.md` default to a valid lab; pass `null` to leave one out.
 */
export function writeLab(labsDir: string, folder: string, files: Record<string, string | null> = {}): string {
  const dir = path.join(labsDir, folder);
  const all: Record<string, string | null> = {
    'lab.yaml': `${labYamlLines(folder).join('\n')}\n`,
    'brief.md': `# ${folder}\n\nDo the thing.\n`,
    'solution/README.md': `# ${folder}\n`,
    ...files,
  };
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(all)) {
    if (content === null) continue;
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return dir;
}
