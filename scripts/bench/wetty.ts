/**
 * The peer: wetty (npm `wetty`), a web terminal over socket.io, attached to the same
 * sandbox with `docker exec -it` as the candidate (uid 1000, like the direct exec).
 *
 * It is installed on demand into `<repo>/.cache/bench-wetty` (never the repo's
 * node_modules, never package.json), with socket.io-client for the bench's side. The
 * bench drives it as its web page does (build/client/wetty.js): socket.io at
 * `<base>/socket.io`, `input` (keys) and `resize` ({cols, rows}) up, `data` (strings)
 * down, and flow control by `commit` of 262144 each time that many characters have
 * arrived since the last commit. Anything that stops it from running becomes a reason
 * printed in the table, never a crash.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { freePort, REPO_ROOT } from '../../test/helpers/server-process.js';
import { PEER_SHELL, Probe, type Channel, type ChunkListener } from './channels.js';
import { log, sleep, type Bench } from './harness.js';

const run = promisify(execFile);

export const WETTY_DIR = path.join(REPO_ROOT, '.cache', 'bench-wetty');
const BASE = '/wetty';
/** The web client's flow-control step (build/client/wetty.js: ackBytes). */
const COMMIT_BYTES = 262_144;

/** The bits of socket.io-client the bench uses (its types are not in the repo's node_modules). */
interface IoSocket {
  connected: boolean;
  io: { engine?: { transport?: { name?: string } } };
  on(event: string, fn: (...args: unknown[]) => void): IoSocket;
  once(event: string, fn: (...args: unknown[]) => void): IoSocket;
  emit(event: string, ...args: unknown[]): IoSocket;
  disconnect(): IoSocket;
}
type IoFactory = (url: string, options: Record<string, unknown>) => IoSocket;

export interface WettyPeer {
  version: string;
  /** How the peer was run, for the report. */
  command: string;
  attach(container: string): Promise<{ channel: Channel; probe: Probe; transport: string }>;
  stop(): Promise<void>;
}

export type WettyStart = { ok: true; peer: WettyPeer } | { ok: false; reason: string };

function installedVersion(): string | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(WETTY_DIR, 'node_modules/wetty/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

const matches = (version: string, wanted: string) => version === wanted || version.startsWith(`${wanted}.`);

/** Installs wetty (and socket.io-client) into the cache folder unless the wanted version is there. */
async function install(wanted: string): Promise<string> {
  await fs.promises.mkdir(WETTY_DIR, { recursive: true });
  const manifest = {
    private: true,
    description: 'opslab bench: the wetty peer, installed on demand by scripts/bench/wetty.ts (not a dependency of opslab)',
    dependencies: { wetty: wanted, 'socket.io-client': '^4.8.0' },
    // npm 11 runs no install script unless listed: node-pty builds its native module in one.
    allowScripts: { 'node-pty': true },
  };
  const file = path.join(WETTY_DIR, 'package.json');
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  const current = await fs.promises.readFile(file, 'utf8').catch(() => '');
  const have = installedVersion();
  const sio = fs.existsSync(path.join(WETTY_DIR, 'node_modules/socket.io-client/package.json'));
  if (current === text && have && matches(have, wanted) && sio) return have;
  await fs.promises.writeFile(file, text);
  log(`installing wetty@${wanted} into ${path.relative(REPO_ROOT, WETTY_DIR)} (once)`);
  try {
    await run('npm', ['install', '--prefix', WETTY_DIR, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: WETTY_DIR,
      timeout: 600_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`npm install wetty@${wanted} failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-3).join(' ')}`);
  }
  const got = installedVersion();
  if (!got) throw new Error('npm install finished but node_modules/wetty is missing');
  return got;
}

async function waitHttp(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`wetty exited (${child.exitCode ?? child.signalCode}): ${output().trim().slice(-400)}`);
    }
    try {
      const r = await fetch(url, { redirect: 'manual' });
      if (r.status < 500) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`wetty did not answer at ${url} within ${timeoutMs} ms: ${output().trim().slice(-400)}`);
    await sleep(100);
  }
}

export async function startWetty(bench: Bench, wanted: string): Promise<WettyStart> {
  let tmp: string | null = null;
  let child: ChildProcess | null = null;
  let stopFn: (() => Promise<void>) | null = null;
  try {
    // As root wetty runs its --command locally; as anyone else it would ssh to localhost.
    if (process.getuid?.() !== 0) throw new Error('wetty runs a local command only as root (otherwise it logs in over ssh); the bench is not root');
    await run('docker', ['--version'], { timeout: 10_000 }).catch(() => {
      throw new Error('the docker command-line client is not installed (wetty attaches with `docker exec -it`)');
    });
    const version = await install(wanted);
    const req = createRequire(path.join(WETTY_DIR, 'package.json'));
    // node-pty has no Linux prebuild: its install script must have built it.
    await run(process.execPath, ['-e', "require('node-pty')"], { cwd: WETTY_DIR, timeout: 30_000 }).catch((e: { stderr?: string }) => {
      throw new Error(`wetty's node-pty does not load: ${(e.stderr ?? '').trim().split('\n')[0] ?? ''}`);
    });
    const io = req('socket.io-client') as { io: IoFactory };

    tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'opslab-bench-wetty-'));
    const target = path.join(tmp, 'target');
    const attach = path.join(tmp, 'attach.sh');
    // The container to attach to is read at connect time, so one wetty serves every session.
    const envArgs = [...PEER_SHELL.env, 'PS1=wetty$ '].map((e) => `-e '${e}'`).join(' ');
    const attachCmd = `exec docker exec -it -u ${PEER_SHELL.user} -w ${PEER_SHELL.cwd} ${envArgs} "$(cat '${target}')" ${PEER_SHELL.cmd.join(' ')}`;
    await fs.promises.writeFile(attach, `#!/bin/sh\n${attachCmd}\n`, { mode: 0o755 });
    await fs.promises.writeFile(target, '');

    const port = await freePort();
    const out: string[] = [];
    const c = spawn(
      process.execPath,
      [path.join(WETTY_DIR, 'node_modules/wetty/build/main.js'), '--host', '127.0.0.1', '--port', String(port), '--base', BASE, '--command', `sh ${attach}`, '--log-level', 'warn'],
      { cwd: tmp, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = c;
    const keep = (d: Buffer) => {
      out.push(d.toString('utf8'));
      if (out.length > 200) out.splice(0, 100);
    };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    const stop = async () => {
      bench.closers.delete(stop);
      if (c.exitCode === null && c.signalCode === null && !c.killed) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            c.kill('SIGKILL');
            resolve();
          }, 3_000);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.kill('SIGTERM');
        });
      }
      if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
    };
    bench.closers.add(stop);
    stopFn = stop;
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(`${url}${BASE}`, c, () => out.join(''), 20_000);

    const peer: WettyPeer = {
      version,
      command: `wetty ${version} --command "sh attach.sh" (${attachCmd.replace(/^exec /, '').replace(`"$(cat '${target}')"`, '<container>')})`,
      attach: async (container) => {
        await fs.promises.writeFile(target, container);
        const socket = io.io(url, { path: `${BASE}/socket.io`, forceNew: true, reconnection: false });
        const listeners = new Set<ChunkListener>();
        let uncommitted = 0;
        socket.on('data', (data: unknown) => {
          const at = performance.now();
          const s = String(data);
          for (const l of [...listeners]) l(s, at);
          // As the web client: count characters, commit in steps of COMMIT_BYTES (here: "rendered" on arrival).
          uncommitted += s.length;
          while (uncommitted >= COMMIT_BYTES) {
            uncommitted -= COMMIT_BYTES;
            socket.emit('commit', COMMIT_BYTES);
          }
        });
        let closed = false;
        const close = () => {
          if (!closed) socket.disconnect();
          closed = true;
          bench.closers.delete(close);
          return Promise.resolve();
        };
        bench.closers.add(close);
        const channel: Channel = {
          name: 'wetty',
          send: (d) => socket.emit('input', d),
          subscribe: (fn) => {
            listeners.add(fn);
            return () => listeners.delete(fn);
          },
          close,
        };
        const probe = new Probe(channel);
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('wetty: socket.io did not connect within 10 s')), 10_000);
          socket.once('connect', () => {
            clearTimeout(t);
            resolve();
          });
          socket.once('connect_error', (e: unknown) => {
            clearTimeout(t);
            reject(new Error(`wetty: socket.io connect failed: ${String(e)}`));
          });
        });
        // The page sends its size once connected.
        socket.emit('resize', { cols: PEER_SHELL.size.cols, rows: PEER_SHELL.size.rows });
        await probe.waitText('wetty$ ', 15_000);
        // The page starts on HTTP long-polling and upgrades to a WebSocket: measure after the upgrade.
        const deadline = performance.now() + 5_000;
        while (socket.io.engine?.transport?.name !== 'websocket' && performance.now() < deadline) await sleep(20);
        return { channel, probe, transport: socket.io.engine?.transport?.name ?? 'unknown' };
      },
      stop,
    };
    return { ok: true, peer };
  } catch (e) {
    if (stopFn) await stopFn().catch(() => undefined);
    else if (child && child.exitCode === null) child.kill('SIGKILL');
    if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
