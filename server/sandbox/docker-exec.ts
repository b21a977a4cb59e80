/**
 * Runs one command in a container and collects its output with limits. Timeouts are
 * enforced inside the container with coreutils `timeout` (Docker has no API to kill
 * an exec), with a host-side watchdog in case the engine itself hangs.
 */
import type Docker from 'dockerode';
import type { ExecOptions, ExecResult } from './driver.js';
import { DockerStreamDemuxer } from './docker-stream.js';
import { OutputCollector, TIMEOUT_EXIT_CODE, resolveExecLimits } from './exec-output.js';

const WATCHDOG_GRACE_MS = 5_000;

type DockerExecOptions = Omit<ExecOptions, 'user'> & { user: string; cwd: string };

export interface RawExecResult extends Omit<ExecResult, 'stdout' | 'stderr'> {
  stdout: Buffer;
  stderr: Buffer;
}

export async function runDockerExec(container: Docker.Container, cmd: string[], options: DockerExecOptions): Promise<ExecResult> {
  const r = await runDockerExecRaw(container, cmd, options);
  return { ...r, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

/** Like runDockerExec, with output as bytes (for terminal logs, archives). */
export async function runDockerExecRaw(
  container: Docker.Container,
  cmd: string[],
  options: DockerExecOptions,
): Promise<RawExecResult> {
  const { timeoutMs, maxOutputBytes: limit } = resolveExecLimits(options);
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const exec = await container.exec({
    Cmd: ['timeout', '-k', '2', `${seconds}s`, ...cmd],
    User: options.user,
    WorkingDir: options.cwd,
    Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
    AttachStdin: options.stdin !== undefined,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = (await exec.start({ hijack: true, stdin: options.stdin !== undefined })) as NodeJS.ReadWriteStream & {
    destroy(): void;
  };
  const stdout = new OutputCollector(limit);
  const stderr = new OutputCollector(limit);
  const demux = new DockerStreamDemuxer((kind, data) => (kind === 'stdout' ? stdout : stderr).push(data));

  let watchdogFired = false;
  await new Promise<void>((resolve, reject) => {
    const watchdog = setTimeout(() => {
      watchdogFired = true;
      stream.destroy();
      resolve();
    }, timeoutMs + WATCHDOG_GRACE_MS);
    const onAbort = () => {
      stream.destroy();
      reject(options.signal?.reason ?? new Error('aborted'));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(watchdog);
      options.signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    stream.on('data', (chunk: Buffer) => demux.push(chunk));
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', (e) => {
      clearTimeout(watchdog);
      reject(e);
    });
    if (options.stdin !== undefined) {
      stream.write(options.stdin);
      stream.end();
    }
  });

  let exitCode = -1;
  if (!watchdogFired) {
    const info = await exec.inspect();
    exitCode = info.ExitCode ?? -1;
  }
  return {
    exitCode,
    stdout: stdout.buffer(),
    stderr: stderr.buffer(),
    timedOut: watchdogFired || exitCode === TIMEOUT_EXIT_CODE || exitCode === 128 + 9,
    truncated: stdout.truncated || stderr.truncated,
  };
}
