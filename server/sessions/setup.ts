/**
 * A lab's setup steps, run in the sandbox before the candidate arrives: foreground steps
 * run to completion; background steps (services such as an MLflow server) are started
 * detached with their output in a root-only log, then waited for. A step that fails or
 * is not ready in time fails the session with that step's output.
 */
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { SetupStep } from '../labs/schema.js';
import type { SandboxDriver, SandboxRef } from '../sandbox/driver.js';

const OUTPUT_TAIL = 2000;

function stepName(step: SetupStep, i: number): string {
  return step.name ?? `setup step ${i + 1} (${step.run.slice(0, 60)})`;
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command that decides whether a background step is ready (runs in the grader: trusted tools). */
function readyProbe(ready: NonNullable<SetupStep['ready']>): { where: 'grader' | 'workspace'; cmd: string[] } {
  if (ready.http) return { where: 'grader', cmd: ['/usr/bin/curl', '-fsS', '-o', '/dev/null', '--max-time', '2', ready.http] };
  if (ready.port) return { where: 'grader', cmd: ['/bin/bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${ready.port}`] };
  return { where: 'workspace', cmd: ['/bin/sh', '-c', ready.command ?? 'false'] };
}

export async function runSetupSteps(
  driver: SandboxDriver,
  ref: SandboxRef,
  steps: readonly SetupStep[],
  options: { signal?: AbortSignal; logger: Logger },
): Promise<void> {
  for (const [i, step] of steps.entries()) {
    options.signal?.throwIfAborted();
    const name = stepName(step, i);
    const started = Date.now();
    if (!step.background) {
      const r = await driver.exec(ref, ['/bin/sh', '-c', step.run], {
        user: step.user,
        timeoutMs: step.timeoutSeconds * 1000,
        signal: options.signal,
      });
      if (r.exitCode !== 0) {
        const why = r.timedOut ? `did not finish within ${step.timeoutSeconds} s` : `exited with ${r.exitCode}`;
        throw new AppError('SANDBOX_FAILED', `${name} ${why}:\n${(r.stdout + r.stderr).slice(-OUTPUT_TAIL)}`);
      }
    } else {
      // setsid + nohup: the service outlives this exec and is not tied to any terminal.
      // Its output goes to a private temp dir (mode 0700), read back if it fails.
      const start = await driver.exec(
        ref,
        ['/bin/sh', '-c', `d=$(mktemp -d) || exit 1; setsid nohup /bin/sh -c ${quote(step.run)} > "$d/out.log" 2>&1 < /dev/null & echo "$! $d/out.log"`],
        { user: step.user, timeoutMs: 10_000, signal: options.signal },
      );
      const [pid = '', log = ''] = start.stdout.trim().split(' ');
      if (start.exitCode !== 0 || !/^\d+$/.test(pid)) {
        throw new AppError('SANDBOX_FAILED', `${name} could not start: ${(start.stdout + start.stderr).slice(-OUTPUT_TAIL)}`);
      }
      if (step.ready) await waitReady(driver, ref, step, name, log, pid, options);
    }
    options.logger.info({ step: name, ms: Date.now() - started }, 'setup step done');
  }
}

async function waitReady(
  driver: SandboxDriver,
  ref: SandboxRef,
  step: SetupStep,
  name: string,
  log: string,
  pid: string,
  options: { signal?: AbortSignal },
): Promise<void> {
  const ready = step.ready!;
  const probe = readyProbe(ready);
  const deadline = Date.now() + ready.timeoutSeconds * 1000;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    options.signal?.throwIfAborted();
    const run = probe.where === 'grader' ? driver.execGrader.bind(driver) : driver.exec.bind(driver);
    const r = await run(ref, probe.cmd, { timeoutMs: 5_000, signal: options.signal, ...(probe.where === 'workspace' ? { user: step.user } : {}) });
    if (r.exitCode === 0) return;
    const alive = await driver.exec(ref, ['kill', '-0', pid], { user: step.user, timeoutMs: 5_000 });
    const gone = alive.exitCode !== 0;
    if (gone || Date.now() > deadline) {
      const out = await driver.exec(ref, ['tail', '-c', String(OUTPUT_TAIL), log], { user: step.user, timeoutMs: 5_000 });
      const why = gone ? 'exited before it was ready' : `was not ready within ${ready.timeoutSeconds} s`;
      throw new AppError('SANDBOX_FAILED', `${name} ${why}. Its output:\n${out.stdout}`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
