/**
 * The lab author's tools, run as an author runs them (`./bin/opslab ...`): every lab in
 * the repository passes `lab test`, a new scaffold passes its own test, and broken labs
 * get precise errors from `lab validate` while the good ones still load.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/server-process.js';

function opslab(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(path.join(REPO_ROOT, 'bin/opslab'), args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', OPSLAB_LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    timeout: 600_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** `opslab lab test` as a child process, without blocking the worker (labs run side by side). */
function opslabAsync(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(REPO_ROOT, 'bin/opslab'), args, {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', OPSLAB_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** Minutes-long labs (a tracking server, DVC runs) rank above the rest. */
function slowness(id: string): number {
  return ['data-versioning', 'mlflow-tracking'].indexOf(id) + 1;
}

/** Every lab folder in the repository (the same list `opslab lab test` with no argument takes). */
const LABS = fs
  .readdirSync(path.join(REPO_ROOT, 'labs'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && fs.existsSync(path.join(REPO_ROOT, 'labs', d.name, 'lab.yaml')))
  .map((d) => d.name)
  // The slowest labs first, so the quick ones fill in around them.
  .sort((a, b) => slowness(b) - slowness(a) || a.localeCompare(b));

/**
 * Two labs at a time: each attempt is a fresh sandbox, and the CI machine has two cores.
 */
const LAB_CONCURRENCY = 2;
let running = 0;
const waiting: (() => void)[] = [];
async function withLabSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= LAB_CONCURRENCY) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

describe.concurrent('opslab lab test passes for every lab in labs/', () => {
  it('finds the labs', () => {
    expect(LABS).toContain('hello');
    expect(LABS.length).toBeGreaterThanOrEqual(3);
  });

  for (const id of LABS) {
    it(id, async () => {
      const r = await withLabSlot(() => opslabAsync(['lab', 'test', path.join('labs', id)]));
      expect(r.out).toMatch(new RegExp(`lab ${id} `));
      expect(r.out).toMatch(/ok +starter/);
      expect(r.out).toMatch(/ok +solution/);
      if (id === 'hello') {
        expect(r.out).toMatch(/ok +solution +2\/2/);
        expect(r.out).toMatch(/ok +case no-commit +1\/2/);
      }
      expect(r.out, r.out).toMatch(/1 lab\(s\) passed, 0 failed/);
      expect(r.code, r.out).toBe(0);
    }, 900_000); // every attempt in a fresh sandbox; the MLflow lab alone takes minutes
  }
});

describe('a lab author starting a new lab, and making mistakes', () => {
  let labsDir: string;
  beforeAll(async () => {
    labsDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'opslab-author-'));
  });
  afterAll(async () => {
    await fs.promises.rm(labsDir, { recursive: true, force: true });
  });

  it('lab new scaffolds a lab that passes its own test', () => {
    const made = opslab(['lab', 'new', 'pin-versions'], { OPSLAB_LABS_DIR: labsDir });
    expect(made.code, made.out).toBe(0);
    const r = opslab(['lab', 'test', path.join(labsDir, 'pin-versions')]);
    expect(r.out, r.out).toMatch(/1 lab\(s\) passed, 0 failed/);
    expect(r.code).toBe(0);
  });

  it('lab validate names the file, line and field of each mistake; the good lab still loads', async () => {
    opslab(['lab', 'new', 'good-lab'], { OPSLAB_LABS_DIR: labsDir });
    opslab(['lab', 'new', 'unknown-type'], { OPSLAB_LABS_DIR: labsDir });
    const unknown = path.join(labsDir, 'unknown-type/lab.yaml');
    await fs.promises.writeFile(unknown, (await fs.promises.readFile(unknown, 'utf8')).replace('type: file', 'type: telepathy'));
    opslab(['lab', 'new', 'no-solution'], { OPSLAB_LABS_DIR: labsDir });
    await fs.promises.rm(path.join(labsDir, 'no-solution/solution'), { recursive: true });
    opslab(['lab', 'new', 'bad-yaml'], { OPSLAB_LABS_DIR: labsDir });
    await fs.promises.appendFile(path.join(labsDir, 'bad-yaml/lab.yaml'), 'tags: [unclosed\n');

    const r = opslab(['lab', 'validate'], { OPSLAB_LABS_DIR: labsDir });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/ok +good-lab/);
    expect(r.out).toMatch(/FAIL [^\n]*unknown-type\/lab\.yaml:14 checks\[0\]\.type: not a check type: expected one of file, git, manifest, command, http, mlflow, got "telepathy"/);
    expect(r.out).toMatch(/FAIL [^\n]*no-solution\/solution: solution\/ is missing/);
    expect(r.out).toMatch(/FAIL [^\n]*bad-yaml\/lab\.yaml:\d+: not valid YAML/);
  });
});
