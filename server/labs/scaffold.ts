/**
 * `opslab lab new <id>`: a lab folder that passes its own `opslab lab test` from the
 * first minute, for the author to grow: one file check, one git check, a starter, a
 * reference solution and one wrong attempt in cases/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { LAB_ID } from './schema.js';

export function scaffoldLab(labsDir: string, id: string): string {
  if (!LAB_ID.test(id)) throw new AppError('VALIDATION', `lab id "${id}": use lowercase letters, digits and dashes`);
  const dir = path.join(labsDir, id);
  if (fs.existsSync(dir)) throw new AppError('VALIDATION', `${dir} already exists`);
  const files: Record<string, string> = {
    'lab.yaml': `# yaml-language-server: $schema=../lab.schema.json
id: ${id}
title: ${id.replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase())}
summary: One sentence an interviewer reads in the catalog.
difficulty: medium
durationMinutes: 45
tags: []
image: base
network: isolated
checks:
  - id: notes-written
    title: NOTES.md explains the change
    points: 2
    type: file
    path: NOTES.md
    matches: "(?i)because"
    hint: Say why, not only what.
  - id: committed
    title: The work is committed
    points: 1
    type: git
    expect: { commitsSinceStart: { gte: 1 }, clean: true }
`,
    'brief.md': `# ${id}

## The situation

What the candidate walks into, and what is already running in the sandbox.

## Your task

1. Write NOTES.md: what you would change, and why.
2. Commit it.

## Done means

NOTES.md gives a reason, and \`git status\` is clean.
`,
    'starter/README.md': `# ${id}\n\nThe repository the candidate starts from.\n`,
    'starter/.gitignore': '__pycache__/\n.venv/\n',
    'solution/NOTES.md': 'We pin the versions because reproducible builds make rollbacks safe.\n',
    'solution/solve.sh': '#!/usr/bin/env bash\nset -euo pipefail\ngit add NOTES.md\ngit commit -q -m "Explain the change"\n',
    'cases/no-reason/case.yaml': 'description: notes that say what but not why, committed\nscore: 1\n',
    'cases/no-reason/solve.sh':
      '#!/usr/bin/env bash\nset -euo pipefail\necho "Pinned the versions." > NOTES.md\ngit add NOTES.md\ngit commit -q -m "Notes"\n',
  };
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text, { mode: rel.endsWith('.sh') ? 0o755 : 0o644 });
  }
  return dir;
}
