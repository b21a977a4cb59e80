import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxSpec } from '../../server/sandbox/driver.js';
import { ExecOutput } from '../../server/sandbox/exec-output.js';
import { LocalDriver } from '../../server/sandbox/local.js';
import type { LocalDriverOptions } from '../../server/sandbox/local.js';
import { describeDriverContract, expectAppError } from './driver-contract.js';
import { PROMPT, TerminalReader } from './terminal-reader.js';

function localSpec(sessionId: string): SandboxSpec {
  return {
    sessionId,
    image: 'unused-by-local',
    network: 'isolated',
    resources: { cpus: 1, memoryMb: 512, pids: 256, diskMb: 1024 },
    capAdd: [],
    env: {},
    size: { cols: 120, rows: 40 },
  };
}

describeDriverContract('local', async () => {
  const rootDir = await mkdtemp(path.join(tmpdir(), 'opslab-ct-'));
  const driver = new LocalDriver({ rootDir, ownerId: `contract-${randomUUID()}`, hostEnv: process.env });
  return {
    driver,
    spec: localSpec,
    teardown: async () => {
      await driver.reap(new Set());
      await rm(rootDir, { recursive: true, force: true });
    },
  };
});

/** What the contract cannot say for every driver: the local driver's own promises. */
describe('LocalDriver specifics', () => {
  let rootDir: string;
  const drivers: LocalDriver[] = [];

  const makeDriver = (ownerId: string, extra: Partial<LocalDriverOptions> = {}): LocalDriver => {
    const driver = new LocalDriver({ rootDir, ownerId, hostEnv: { ...process.env, OPSLAB_SERVER_SECRET: 'do-not-leak' }, ...extra });
    drivers.push(driver);
    return driver;
  };
  const id = (): string => `lt-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    rootDir = await mkdtemp(path.join(tmpdir(), 'opslab-lt-'));
  });

  afterAll(async () => {
    for (const driver of drivers) await driver.reap(new Set());
    await rm(rootDir, { recursive: true, force: true });
  });

  it('keeps to its own owner, and lists sandboxes left by an earlier process as not running', async () => {
    const mine = makeDriver('owner-a');
    const theirs = makeDriver('owner-b');
    const ref = await theirs.create(localSpec(id()));
    const meta = JSON.parse(await readFile(path.join(ref.id, 'meta.json'), 'utf8')) as Record<string, unknown>;
    expect(meta).toMatchObject({ sessionId: ref.sessionId, ownerId: 'owner-b' });

    expect(await mine.list()).toEqual([]);
    expect(await mine.reap(new Set())).toEqual([]);
    await mine.destroy(ref);
    expect(await theirs.list({ sessionId: ref.sessionId })).toEqual([{ ref, running: true }]);

    // A new process of owner b: the directory is there, the shell is not.
    const restarted = makeDriver('owner-b');
    expect(await restarted.list({ sessionId: ref.sessionId })).toEqual([{ ref, running: false }]);
    await expectAppError(restarted.openTty(ref, { cols: 80, rows: 24 }), 'NOT_FOUND');
    expect(await restarted.reap(new Set())).toEqual([ref.sessionId]);
    await expect(stat(ref.id)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('gives commands a HOME of their own and none of the server environment', async () => {
    const driver = makeDriver('owner-env');
    const ref = await driver.create({ ...localSpec(id()), env: { LAB_VAR: 'from-lab' } });
    const result = await driver.exec(ref, ['sh', '-c', 'echo "$HOME|$LAB_VAR|${OPSLAB_SERVER_SECRET:-unset}"']);
    expect(result.stdout).toBe(`${path.join(ref.id, 'home')}|from-lab|unset\n`);
    const grader = await driver.execGrader(ref, ['sh', '-c', 'echo "${LAB_VAR:-unset}"']);
    expect(grader.stdout).toBe('unset\n');
    const missing = await driver.exec(ref, ['opslab-no-such-command']);
    expect(missing.exitCode).toBe(127);
    await driver.destroy(ref);
  });

  it('resolves cwd inside the workspace and maps /workspace to it', async () => {
    const driver = makeDriver('owner-cwd');
    const ref = await driver.create(localSpec(id()));
    const workspace = path.join(ref.id, 'workspace');
    await driver.exec(ref, ['mkdir', 'sub']);
    expect((await driver.exec(ref, ['pwd'], { cwd: 'sub' })).stdout).toBe(`${workspace}/sub\n`);
    expect((await driver.exec(ref, ['pwd'], { cwd: '/workspace/sub' })).stdout).toBe(`${workspace}/sub\n`);
    await expectAppError(driver.exec(ref, ['pwd'], { cwd: '../home' }), 'VALIDATION');
    await expectAppError(driver.exec(ref, ['pwd'], { cwd: '/workspace/../home' }), 'VALIDATION');
    await driver.destroy(ref);
  });

  it('stops a command on abort, and destroy kills what escaped the shell', async () => {
    const driver = makeDriver('owner-kill');
    const ref = await driver.create(localSpec(id()));
    const started = Date.now();
    await expect(driver.exec(ref, ['sleep', '30'], { signal: AbortSignal.timeout(200) })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(5000);

    const escaped = await driver.exec(ref, ['sh', '-c', 'setsid sleep 300 >/dev/null 2>&1 < /dev/null & echo $!']);
    const pid = Number(escaped.stdout.trim());
    expect(isAlive(pid)).toBe(true);
    await driver.destroy(ref);
    await expect.poll(() => isAlive(pid), { timeout: 3000 }).toBe(false);
  });

  it('keeps a bounded history with its absolute offset', async () => {
    const driver = makeDriver('owner-hist', { historyBytes: 4096 });
    const ref = await driver.create(localSpec(id()));
    const first = await driver.openTty(ref, { cols: 120, rows: 40 });
    const reader = new TerminalReader(first);
    await reader.expect(PROMPT);
    reader.sendLine('seq 1 3000; echo seq-$((1+1))-done');
    await reader.expect('seq-2-done');
    first.stream.close();
    const { history } = await driver.openTty(ref, { cols: 120, rows: 40 });
    expect(history.data.length).toBe(4096);
    expect(history.offset).toBeGreaterThan(0);
    expect(history.offset + history.data.length).toBe(reader.endOffset);
    expect(history.data.equals(reader.bytes.subarray(reader.bytes.length - 4096))).toBe(true);
    await driver.destroy(ref);
  });

  it('copyIn replaces a planted symlink instead of writing through it', async () => {
    const driver = makeDriver('owner-copy');
    const ref = await driver.create(localSpec(id()));
    const outside = path.join(rootDir, `outside-${randomUUID()}.txt`);
    await writeFile(outside, 'untouched\n');
    await driver.exec(ref, ['ln', '-s', outside, 'a.txt']);
    const hostDir = await mkdtemp(path.join(tmpdir(), 'opslab-lt-src-'));
    await writeFile(path.join(hostDir, 'a.txt'), 'from-lab\n');
    await driver.copyIn(ref, hostDir);
    expect(await readFile(outside, 'utf8')).toBe('untouched\n');
    expect((await driver.exec(ref, ['sh', '-c', 'test ! -L a.txt && cat a.txt'])).stdout).toBe('from-lab\n');
    await rm(hostDir, { recursive: true, force: true });
    await driver.destroy(ref);
  });
});

describe('exec output collection', () => {
  it('keeps at most the limit and never splits a UTF-8 character', () => {
    const output = new ExecOutput(5);
    output.stdout.push(Buffer.from('abcd'));
    output.stdout.push(Buffer.from('é!')); // 'é' is 2 bytes: only its first fits
    output.stderr.push('ok');
    expect(output.result(0, false)).toEqual({ exitCode: 0, stdout: 'abcd', stderr: 'ok', timedOut: false, truncated: true });
  });
});

function isAlive(pid: number): boolean {
  try {
    // A zombie (killed, not yet reaped by init) counts as gone.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
