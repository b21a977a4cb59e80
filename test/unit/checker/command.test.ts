/**
 * The `command` check, run through a context whose execGrader executes the same argv on
 * the host (the local driver's exec, with the workspace mapped to /workspace).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandCheck, commandSpecSchema } from '../../../server/checker/checks/command.js';
import type { CommandSpec } from '../../../server/checker/checks/command.js';
import type { CheckResult } from '../../../server/checker/types.js';
import type { HostContext } from './http-fakes.js';
import { hostContext } from './http-fakes.js';

let ctx: HostContext;

beforeAll(() => {
  // The image's own environment puts a directory of fakes first; the check must not use it.
  ctx = hostContext();
  const fakes = path.join(ctx.workspace, 'bin');
  mkdirSync(fakes);
  for (const name of ['echo', 'python3', 'curl', 'cat']) {
    writeFileSync(path.join(fakes, name), '#!/bin/sh\necho HACKED\nexit 0\n');
    chmodSync(path.join(fakes, name), 0o755);
  }
  mkdirSync(path.join(ctx.workspace, 'reports'));
  writeFileSync(path.join(ctx.workspace, 'reports', 'drift.json'), JSON.stringify({ drifted: true, feature: 'tenure_months', psi: { tenure_months: 0.41 } }));
});

afterAll(() => ctx.dispose());

function spec(fields: Record<string, unknown>): CommandSpec {
  return commandSpecSchema.parse({ type: 'command', ...fields });
}

async function run(fields: Record<string, unknown>, c: HostContext = ctx, timeoutSeconds?: number): Promise<CheckResult> {
  return commandCheck.run({ ...spec(fields), ...(timeoutSeconds ? { timeoutSeconds } : {}) }, c);
}

function failedMessage(r: CheckResult): string {
  expect(r.status, JSON.stringify(r)).toBe('failed');
  return r.status === 'failed' ? r.message : '';
}

describe('command check', () => {
  it('runs a string with /bin/sh -c in /workspace and passes on exit 0 and matching output', async () => {
    const r = await run({ run: 'echo "accuracy=0.91"; pwd', expect: { stdoutMatches: '^accuracy=0\\.9\\d' } });
    expect(r.status, JSON.stringify(r)).toBe('passed');
    const call = ctx.calls[ctx.calls.length - 1]!;
    expect(call.cmd.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(call.options?.cwd).toBe('/workspace');
  });

  it('uses a fixed PATH, so fakes the image or the workspace put on PATH are never run', async () => {
    const c = hostContext({ baseEnv: { PATH: `${ctx.workspace}/bin:/usr/bin:/bin` } });
    // The same fakes in this context's workspace.
    mkdirSync(path.join(c.workspace, 'bin'));
    writeFileSync(path.join(c.workspace, 'bin', 'echo'), '#!/bin/sh\necho HACKED\n');
    chmodSync(path.join(c.workspace, 'bin', 'echo'), 0o755);
    const r = await run({ run: ['echo', 'real'], expect: { stdoutMatches: '^real$', stdoutNotMatches: 'HACKED' } }, c);
    expect(r.status, JSON.stringify(r)).toBe('passed');
    const r2 = await run({ run: 'echo "$PATH"', expect: { stdoutMatches: '^/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin$' } }, c);
    expect(r2.status, JSON.stringify(r2)).toBe('passed');
    c.dispose();
  });

  it('fails a wrong exit code with the last line the command printed', async () => {
    const msg = failedMessage(await run({ run: 'echo working; echo "AssertionError: accuracy 0.61 < 0.86" >&2; exit 3' }));
    expect(msg).toBe('`echo working; echo "AssertionError: accuracy 0.61 < 0.86" >&2; exit 3` exited 3, expected 0: AssertionError: accuracy 0.61 < 0.86');
  });

  it('passes an expected non-zero exit code', async () => {
    expect((await run({ run: ['/bin/sh', '-c', 'exit 3'], expect: { exitCode: 3 } })).status).toBe('passed');
  });

  it('judges stdout and stderr patterns both ways', async () => {
    const cmd = 'echo "PSI tenure_months 0.41 DRIFT"; echo "warning: small sample" >&2';
    expect((await run({ run: cmd, expect: { stdoutMatches: 'DRIFT', stderrMatches: '(?i)WARNING' } })).status).toBe('passed');
    expect(failedMessage(await run({ run: cmd, expect: { stdoutMatches: 'NO DRIFT' } }))).toContain(
      'stdout does not match /NO DRIFT/ (last line: "PSI tenure_months 0.41 DRIFT")',
    );
    expect(failedMessage(await run({ run: cmd, expect: { stdoutNotMatches: 'DRIFT' } }))).toContain(
      'stdout contains "DRIFT", which must not match /DRIFT/',
    );
    expect(failedMessage(await run({ run: cmd, expect: { stderrNotMatches: 'warning' } }))).toContain('stderr contains "warning"');
    expect(failedMessage(await run({ run: 'true', expect: { stderrMatches: 'x' } }))).toContain('stderr does not match /x/ (stderr is empty)');
  });

  it('reads stdout as JSON for path expectations', async () => {
    const r = await run({
      run: ['cat', 'drift.json'],
      cwd: 'reports',
      expect: {
        stdoutJson: [
          { path: 'drifted', eq: true },
          { path: 'feature', eq: 'tenure_months' },
          { path: 'psi.tenure_months', gt: 0.2 },
          { path: '["psi"]["tenure_months"]', type: 'number' },
        ],
      },
    });
    expect(r.status, JSON.stringify(r)).toBe('passed');
    expect(ctx.calls[ctx.calls.length - 1]!.options?.cwd).toBe('/workspace/reports');

    const msg = failedMessage(
      await run({ run: ['cat', 'reports/drift.json'], expect: { stdoutJson: [{ path: 'feature', eq: 'monthly_charges' }, { path: 'verdict', exists: true }] } }),
    );
    expect(msg).toBe('`cat reports/drift.json` exited 0, but `feature` is "tenure_months", expected "monthly_charges"; field `verdict` is missing');
  });

  it('fails stdout that is not JSON, or too large to read', async () => {
    expect(failedMessage(await run({ run: 'echo "{not json"', expect: { stdoutJson: [{ path: 'a', exists: true }] } }))).toMatch(
      /exited 0, but stdout is not JSON \(/,
    );
    const msg = failedMessage(await run({ run: 'head -c 3000000 /dev/zero | tr "\\0" "["', expect: { stdoutJson: [{ path: 'a', exists: true }] } }));
    expect(msg).toContain('stdout is larger than 1 MiB, too large to read as JSON');
  });

  it('turns a command that runs past its time into an error, quickly', async () => {
    const started = Date.now();
    const r = await run({ run: 'sleep 30' }, ctx, 3);
    expect(r).toMatchObject({ status: 'error', code: 'TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('reports a command missing from the grader as an error', async () => {
    expect(await run({ run: ['no-such-tool-opslab', '--version'] })).toMatchObject({ status: 'error', code: 'COMMAND_NOT_FOUND' });
    expect(await run({ run: 'no-such-tool-opslab --version' })).toMatchObject({ status: 'error', code: 'COMMAND_NOT_FOUND' });
    expect((await run({ run: 'no-such-tool-opslab', expect: { exitCode: 127 } })).status).toBe('passed');
  });

  it('passes env and keeps the fixed PATH unless told otherwise', async () => {
    const r = await run({ run: 'echo "$MLFLOW_TRACKING_URI"', env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000' }, expect: { stdoutMatches: '^http://127\\.0\\.0\\.1:5000$' } });
    expect(r.status, JSON.stringify(r)).toBe('passed');
  });
});

describe('command check: the schema', () => {
  const parse = (fields: Record<string, unknown>) => commandSpecSchema.safeParse({ type: 'command', ...fields });

  it('accepts the documented forms', () => {
    expect(parse({ run: 'python3 /grader/eval.py' }).success).toBe(true);
    expect(parse({ run: ['python3', '/grader/eval.py'], cwd: 'src/app' }).success).toBe(true);
    expect(parse({ run: ['/usr/bin/python3', '-m', 'pytest'] }).success).toBe(true);
    expect(parse({ run: 'true' }).data?.expect.exitCode).toBe(0);
  });

  it('refuses a program path relative to the workspace, a cwd that leaves it, and nonsense', () => {
    expect(parse({ run: ['./run.sh'] }).success).toBe(false);
    expect(parse({ run: ['bin/python3', 'x'] }).success).toBe(false);
    expect(parse({ run: [] }).success).toBe(false);
    expect(parse({ run: '' }).success).toBe(false);
    expect(parse({ run: 'true', cwd: '../etc' }).success).toBe(false);
    expect(parse({ run: 'true', cwd: 'a/../../etc' }).success).toBe(false);
    expect(parse({ run: 'true', cwd: '/etc' }).success).toBe(false);
    expect(parse({ run: 'true', env: { 'BAD-NAME': 'x' } }).success).toBe(false);
    expect(parse({ run: 'true', expect: { exitcode: 0 } }).success).toBe(false);
    expect(parse({ run: 'true', expect: { stdoutMatches: '[' } }).success).toBe(false);
    expect(parse({ run: 'true', script: 'x' }).success).toBe(false);
  });
});
