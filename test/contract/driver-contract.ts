/**
 * The contract every `SandboxDriver` passes: what a candidate, the checker and the
 * reaper observe, independent of the engine behind it. A driver's test file calls
 * `describeDriverContract` with a setup that builds the driver.
 *
 * Cases compare against what the sandbox itself reports (`pwd`) rather than a fixed
 * path, since the workspace is `/workspace` in a container and a temp dir locally.
 * Give the driver an owner id of its own: the reap case removes every sandbox of that
 * owner the suite does not know to be live.
 */
import { randomUUID } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { takeSnapshot } from '../../server/checker/snapshot.js';
import { AppError } from '../../server/errors.js';
import type { ErrorCode } from '../../server/errors.js';
import type { SandboxDriver, SandboxRef, SandboxSpec, TermSize } from '../../server/sandbox/driver.js';
import { joinByOffset, plainText, PROMPT, TerminalReader } from './terminal-reader.js';

export interface DriverContractSetup {
  driver: SandboxDriver;
  spec: (sessionId: string) => SandboxSpec;
  teardown?: () => Promise<void>;
}

/** Wide enough that a long prompt and command never wrap, which would add readline's redraw codes. */
const TTY: TermSize = { cols: 200, rows: 50 };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Asserts that `promise` rejects with an `AppError` of `code`. */
export async function expectAppError(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a rejection with AppError ${code}`).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
}

export function describeDriverContract(name: string, setup: () => Promise<DriverContractSetup>): void {
  describe(`SandboxDriver contract: ${name}`, () => {
    let ctx: DriverContractSetup;
    /** Sandboxes created and not yet destroyed, by session id. */
    const active = new Map<string, SandboxRef>();
    const opened: TerminalReader[] = [];

    const sessionId = (): string => `ct-${name.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}-${randomUUID().slice(0, 8)}`;

    async function create(): Promise<SandboxRef> {
      const id = sessionId();
      const ref = await ctx.driver.create(ctx.spec(id));
      active.set(id, ref);
      expect(ref.sessionId).toBe(id);
      return ref;
    }

    async function destroy(ref: SandboxRef): Promise<void> {
      await ctx.driver.destroy(ref);
      active.delete(ref.sessionId);
    }

    async function attach(ref: SandboxRef, size: TermSize = TTY): Promise<TerminalReader> {
      const reader = new TerminalReader(await ctx.driver.openTty(ref, size));
      opened.push(reader);
      return reader;
    }

    /** Attaches and waits until the shell is ready for input. */
    async function attachAtPrompt(ref: SandboxRef, size: TermSize = TTY): Promise<TerminalReader> {
      const reader = await attach(ref, size);
      await reader.expect(PROMPT);
      return reader;
    }

    /** The workspace path as the sandbox reports it. */
    async function workspacePath(ref: SandboxRef): Promise<string> {
      const result = await ctx.driver.exec(ref, ['pwd']);
      expect(result.exitCode).toBe(0);
      return result.stdout.trim();
    }

    beforeAll(async () => {
      ctx = await setup();
    });

    afterEach(async () => {
      for (const reader of opened.splice(0)) reader.stream.close();
      await Promise.all([...active.values()].map((ref) => destroy(ref)));
    });

    afterAll(async () => {
      await ctx?.teardown?.();
    });

    describe('terminal', () => {
      it('creates a running sandbox whose shell answers', async () => {
        const ref = await create();
        expect(ref.driver).toBe(ctx.driver.kind);

        const listed = await ctx.driver.list({ sessionId: ref.sessionId });
        expect(listed).toEqual([{ ref, running: true }]);
        expect((await ctx.driver.list()).map((info) => info.ref.sessionId)).toContain(ref.sessionId);

        const term = await attachAtPrompt(ref);
        term.sendLine('echo hello-$((6*7))');
        await term.expect('hello-42');
        await term.expect(PROMPT);
      });

      it('keeps the shell, its variables and what it printed across a detach', async () => {
        const ref = await create();
        const first = await attachAtPrompt(ref);
        first.sendLine('export OPSLAB_KEPT=kept-$((2+3))');
        await first.expect(PROMPT);
        first.sendLine('(sleep 0.5; echo while-$((1+1))-away) &');
        await first.expect(PROMPT);
        first.stream.close();
        const detachedAt = first.endOffset;
        await sleep(1500);

        const second = await attach(ref);
        expect(second.startOffset).toBeLessThanOrEqual(detachedAt);
        const sinceDetach = plainText(second.bytes.subarray(detachedAt - second.startOffset, second.historyLength));
        expect(sinceDetach, 'output produced while detached is in the next history').toContain('while-2-away');
        expect(plainText(first.bytes)).not.toContain('while-2-away');

        second.sendLine('echo "kept=[$OPSLAB_KEPT]"');
        await second.expect('kept=[kept-5]');
      });

      it('delivers output that spans a detach completely and in order', async () => {
        const ref = await create();
        const first = await attachAtPrompt(ref);
        first.sendLine('seq 1 20000');
        await first.expect(/\n1\n2\n/);
        first.stream.close(); // mid-stream, as soon as output starts

        const second = await attach(ref);
        await second.expect(/\n20000\n/);
        await second.expect(PROMPT);

        const text = plainText(joinByOffset(first, second));
        const afterCommand = text.slice(text.lastIndexOf('seq 1 20000'));
        const numbers = afterCommand.split('\n').filter((line) => /^\d+$/.test(line));
        const firstWrong = numbers.findIndex((line, i) => line !== String(i + 1));
        expect(firstWrong, `line ${firstWrong + 1} is ${numbers[firstWrong]}`).toBe(-1);
        expect(numbers.length).toBe(20000);
      });

      it('holds output back while paused and delivers all of it after resume', async () => {
        const ref = await create();
        const term = await attachAtPrompt(ref);
        term.stream.pause();
        term.sendLine('seq 1 50000; echo paused-$((4+4))-done');
        await sleep(500);
        expect(plainText(term.bytes)).not.toContain('paused-8-done');

        term.stream.resume();
        await term.expect('paused-8-done');
        const text = plainText(term.bytes);
        const numbers = text.slice(text.lastIndexOf('seq 1 50000')).split('\n').filter((line) => /^\d+$/.test(line));
        expect(numbers.length).toBe(50000);
        expect(numbers[49999]).toBe('50000');
      });

      it('keeps a background job running across a detach', async () => {
        const ref = await create();
        const first = await attachAtPrompt(ref);
        first.sendLine('sleep 600 &');
        await first.expect(PROMPT);
        first.stream.close();

        const second = await attachAtPrompt(ref);
        second.sendLine('jobs');
        await second.expect(/Running\s+sleep 600/);
      });

      it('gives the shell the size of the attachment and of each resize', async () => {
        const ref = await create();
        const term = await attachAtPrompt(ref, { cols: 91, rows: 23 });
        term.sendLine('stty size');
        await term.expect(/\n23 91\n/);
        await term.expect(PROMPT);

        await term.stream.resize({ cols: 150, rows: 41 });
        term.sendLine('stty size');
        await term.expect(/\n41 150\n/);
      });

      it('starts a new shell on the same attachment when the shell exits', async () => {
        const ref = await create();
        const term = await attachAtPrompt(ref);
        term.sendLine('export OPSLAB_OLD=old-shell');
        await term.expect(PROMPT);
        term.sendLine('exit');
        await term.expect(PROMPT, 20_000);

        term.sendLine('echo "again-$((3*3)) old=[$OPSLAB_OLD]"');
        await term.expect('again-9 old=[]');
        expect(term.closed).toBeUndefined();
        expect(await ctx.driver.list({ sessionId: ref.sessionId })).toEqual([{ ref, running: true }]);
      });
    });

    describe('exec', () => {
      let ref: SandboxRef;

      beforeAll(async () => {
        const id = sessionId();
        ref = await ctx.driver.create(ctx.spec(id));
      });

      afterAll(async () => {
        if (ref !== undefined) await ctx.driver.destroy(ref);
      });

      it('reports stdout, stderr and the exit code', async () => {
        const result = await ctx.driver.exec(ref, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
        expect(result).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false, truncated: false });
      });

      it('feeds stdin and passes env', async () => {
        const text = await ctx.driver.exec(ref, ['cat'], { stdin: 'line one\nline two\n' });
        expect(text.stdout).toBe('line one\nline two\n');
        const bytes = await ctx.driver.exec(ref, ['wc', '-c'], { stdin: Buffer.alloc(5000, 'x') });
        expect(bytes.stdout.trim()).toBe('5000');
        const env = await ctx.driver.exec(ref, ['sh', '-c', 'printf %s "$OPSLAB_T"'], { env: { OPSLAB_T: 'from-env' } });
        expect(env.stdout).toBe('from-env');
      });

      it('kills a command (and its children) at the timeout', async () => {
        const started = Date.now();
        const result = await ctx.driver.exec(ref, ['sh', '-c', 'sleep 30; echo never'], { timeoutMs: 500 });
        expect(result.timedOut).toBe(true);
        expect(result.exitCode).not.toBe(0);
        expect(result.stdout).not.toContain('never');
        expect(Date.now() - started).toBeLessThan(10_000);
      });

      it('cuts output at maxOutputBytes', async () => {
        const result = await ctx.driver.exec(ref, ['sh', '-c', "head -c 100000 /dev/zero | tr '\\000' a"], { maxOutputBytes: 1000 });
        expect(result.exitCode).toBe(0);
        expect(result.truncated).toBe(true);
        expect(result.stdout.length).toBeGreaterThan(0);
        expect(result.stdout.length).toBeLessThanOrEqual(1000);
        expect(result.stdout).toMatch(/^a+$/);
      });

      it('runs in the workspace by default and in an absolute cwd when given', async () => {
        const workspace = await workspacePath(ref);
        expect(path.posix.isAbsolute(workspace)).toBe(true);
        await ctx.driver.exec(ref, ['mkdir', '-p', 'nested/dir']);
        const nested = await ctx.driver.exec(ref, ['pwd'], { cwd: `${workspace}/nested/dir` });
        expect(nested.stdout.trim()).toBe(`${workspace}/nested/dir`);
      });
    });

    it("lets exec and execGrader read the candidate's files from the workspace", async () => {
      const ref = await create();
      const term = await attachAtPrompt(ref);
      term.sendLine('echo graded-$((5*5)) > answer.txt; echo "cwd=[$PWD]"');
      const shellCwd = (await term.expect(/cwd=\[(\/[^\]\n]*)\]/))[1];
      expect(shellCwd).toBe(await workspacePath(ref));

      const seen = await ctx.driver.exec(ref, ['cat', 'answer.txt']);
      expect(seen.stdout).toBe('graded-25\n');
      const graded = await ctx.driver.execGrader(ref, ['cat', 'answer.txt']);
      expect(graded).toMatchObject({ exitCode: 0, stdout: 'graded-25\n' });
      const byPath = await ctx.driver.execGrader(ref, ['cat', `${shellCwd}/answer.txt`]);
      expect(byPath.stdout).toBe('graded-25\n');
    });

    it('copies a host directory in: files, modes, nested dirs, symlinks as links', async () => {
      const hostDir = await mkdtemp(path.join(tmpdir(), 'opslab-copyin-'));
      try {
        await mkdir(path.join(hostDir, 'sub', 'deep'), { recursive: true });
        await writeFile(path.join(hostDir, 'a.txt'), 'alpha\n');
        await writeFile(path.join(hostDir, 'sub', 'deep', 'b.txt'), 'beta\n');
        await writeFile(path.join(hostDir, 'run.sh'), '#!/bin/sh\necho ran\n');
        await chmod(path.join(hostDir, 'run.sh'), 0o755);
        await symlink('a.txt', path.join(hostDir, 'link-to-a'));
        await symlink('sub', path.join(hostDir, 'link-to-dir'));
        await symlink('/nonexistent/opslab-target', path.join(hostDir, 'dangling'));

        const ref = await create();
        await ctx.driver.copyIn(ref, hostDir);
        const sh = (script: string): Promise<{ exitCode: number; stdout: string; stderr: string }> => ctx.driver.exec(ref, ['sh', '-c', script]);

        expect((await sh('cat a.txt sub/deep/b.txt')).stdout).toBe('alpha\nbeta\n');
        expect((await sh('./run.sh')).stdout).toBe('ran\n');
        expect((await sh('test -L link-to-a && readlink link-to-a && cat link-to-a')).stdout).toBe('a.txt\nalpha\n');
        expect((await sh('test -L link-to-dir && readlink link-to-dir')).stdout).toBe('sub\n');
        expect((await sh('test -L dangling && readlink dangling')).stdout).toBe('/nonexistent/opslab-target\n');

        const write = await sh('echo more >> a.txt && touch sub/deep/new.txt && cat a.txt');
        expect(write).toMatchObject({ exitCode: 0, stdout: 'alpha\nmore\n' });
      } finally {
        await rm(hostDir, { recursive: true, force: true });
      }
    });

    it('archives the workspace for a safe snapshot: links out, special and oversized files refused, the rest intact', async () => {
      const ref = await create();
      const setup = await ctx.driver.exec(ref, [
        'sh',
        '-c',
        [
          'mkdir -p src/deep',
          'printf "print(1)\\n" > src/app.py',
          'echo nested > src/deep/n.txt',
          'printf "#!/bin/sh\\necho ran\\n" > run.sh && chmod 755 run.sh',
          'ln -s src/app.py app-link',
          'ln -s /etc/shadow leak',
          'ln -s ../../../../../../etc/passwd climb',
          'mkfifo pipe',
          // Sparse, above the 64 MiB per-file default: skipped (its bytes still cross the wire).
          'truncate -s 80M big.bin',
          'echo after > zz-after.txt',
        ].join(' && '),
      ]);
      expect(setup, setup.stderr).toMatchObject({ exitCode: 0 });

      const snap = await takeSnapshot(await ctx.driver.archive(ref));
      try {
        const read = (p: string): Promise<string> => readFile(path.join(snap.dir, p), 'utf8');
        expect(await read('src/app.py')).toBe('print(1)\n');
        expect(await read('src/deep/n.txt')).toBe('nested\n');
        expect(await read('app-link')).toBe('print(1)\n');
        expect(await read('zz-after.txt')).toBe('after\n');
        expect((await lstat(path.join(snap.dir, 'app-link'))).isSymbolicLink()).toBe(true);
        expect((await lstat(path.join(snap.dir, 'run.sh'))).mode & 0o111).not.toBe(0);
        for (const refused of ['leak', 'climb', 'pipe', 'big.bin']) {
          await expect(lstat(path.join(snap.dir, refused)), refused).rejects.toMatchObject({ code: 'ENOENT' });
        }
        expect(snap.skipped).toEqual(
          expect.arrayContaining([
            'leak: symlink to an absolute path (/etc/shadow)',
            'climb: symlink target ../../../../../../etc/passwd leaves the workspace',
            'big.bin: 80 MiB, larger than the 64 MiB file limit',
          ]),
        );
        // Drivers differ on fifos: the engine's archive has the entry (refused), the host's leaves it out.
        expect(snap.skipped.filter((line) => !/^(leak|climb|big\.bin|pipe): /.test(line))).toEqual([]);
      } finally {
        await snap.dispose();
      }
    });

    it('destroys idempotently, ending attachments; the sandbox is then gone', async () => {
      const ref = await create();
      const term = await attachAtPrompt(ref);
      await destroy(ref);
      await ctx.driver.destroy(ref);

      const info = await term.expectClosed();
      expect(typeof info.reason).toBe('string');
      expect(await ctx.driver.list({ sessionId: ref.sessionId })).toEqual([]);
      await expectAppError(ctx.driver.openTty(ref, TTY), 'NOT_FOUND');
      await expectAppError(ctx.driver.exec(ref, ['true']), 'NOT_FOUND');
    });

    it('reaps the sandboxes that are not live, and only those', async () => {
      const keep = await create();
      const stale = await create();
      const live = new Set([...active.keys()].filter((id) => id !== stale.sessionId));

      const removed = await ctx.driver.reap(live);
      active.delete(stale.sessionId);
      expect(removed).toContain(stale.sessionId);
      expect(removed).not.toContain(keep.sessionId);
      expect(await ctx.driver.list({ sessionId: stale.sessionId })).toEqual([]);
      expect(await ctx.driver.list({ sessionId: keep.sessionId })).toEqual([{ ref: keep, running: true }]);
    });
  });
}
