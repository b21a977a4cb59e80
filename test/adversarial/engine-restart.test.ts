/**
 * The Docker engine itself restarted under a live session. scripts/setup starts dockerd
 * with `--live-restore`, so containers keep running while the daemon is down; the
 * session must survive too: same shell, terminals back, nothing lost or doubled in the
 * recording, still gradable.
 *
 * This row restarts an engine, so it runs on a second dockerd of its own
 * (test/helpers/second-engine.ts) and never touches the main engine the other suites
 * use at the same time. Its opslab server takes sandbox networks from 10.232.0.0/16, so
 * its network guard rules (keyed on the pool) are its own, and removed afterwards.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { LabCatalog } from '../../server/labs/catalog.js';
import { resolveLabImage } from '../../server/labs/images.js';
import { guardRules } from '../../server/sandbox/docker-network-guard.js';
import { SecondEngine } from '../helpers/second-engine.js';
import { REPO_ROOT, ServerProcess } from '../helpers/server-process.js';
import { createSession, openTerminal, PROMPT, recordingOf, waitForState, type CreatedSession } from '../helpers/session-flow.js';
import { stripAnsi, type TerminalClient } from '../helpers/terminal-client.js';
import { attack } from './row.js';

const run = promisify(execFile);
/** Sandbox networks of this row's server: outside the main server's pool (172.16.0.0/16) and the second engine's bridge (10.231.0.0/24). */
const POOL = '10.232.0.0/16';
/** Ticks the shell must print while the engine is down (one every 0.25 s). */
const TICKS_WHILE_DOWN = 3;
const TICK = /<tick-(\d+)>/g;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The `<tick-N>` numbers in `text`, in order. */
function ticksIn(text: string): number[] {
  return [...stripAnsi(text).matchAll(TICK)].map((m) => Number(m[1]));
}

/** The session's `state` events so far, from its event stream (which replays them on connect). */
async function stateEvents(server: ServerProcess, id: string): Promise<string[]> {
  const abort = new AbortController();
  const r = await fetch(`${server.url}/api/sessions/${id}/events`, {
    headers: { authorization: `Bearer ${server.adminToken}` },
    signal: abort.signal,
  });
  if (!r.ok || !r.body) throw new Error(`events: ${r.status}`);
  const reader = r.body.getReader();
  let text = '';
  const stop = setTimeout(() => abort.abort(), 1_000); // the replay comes at once; the stream itself never ends
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
  } catch {
    // aborted
  } finally {
    clearTimeout(stop);
  }
  return [...text.matchAll(/event: state\ndata: (.*)\n/g)].map((m) => (JSON.parse(m[1] ?? '{}') as { state: string }).state);
}

/** The engine's containers, networks and volumes labelled with this session. */
async function engineResources(engine: SecondEngine, sessionId: string): Promise<string[]> {
  const filters = { label: [`opslab.session=${sessionId}`] };
  const [containers, networks, volumes] = await Promise.all([
    engine.docker.listContainers({ all: true, filters }),
    engine.docker.listNetworks({ filters }),
    engine.docker.listVolumes({ filters }),
  ]);
  return [
    ...containers.map((c) => `container ${c.Names.join(',')}`),
    ...networks.map((n) => `network ${n.Name}`),
    ...(volumes.Volumes ?? []).map((v) => `volume ${v.Name}`),
  ];
}

/** Loop devices still attached to this session's disk images. */
async function loopDevicesOf(sessionId: string): Promise<string[]> {
  const { stdout } = await run('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  return stdout
    .split('\n')
    .filter((l) => l.includes(`/${sessionId}.`))
    .map((l) => `loop ${l.trim()}`);
}

async function detachLoopDevicesUnder(dir: string): Promise<void> {
  const { stdout } = await run('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  for (const line of stdout.split('\n')) {
    const [device, file] = line.trim().split(/\s+/, 2);
    if (device && file?.startsWith(`${dir}/`)) await run('losetup', ['--detach', device]);
  }
}

async function waitUntil(done: () => Promise<boolean>, timeoutMs: number, what: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`after ${timeoutMs / 1000} s: ${await what()}`);
    await sleep(250);
  }
}

/** The image the hello lab's sandboxes run, named as the server names it (its default config). */
async function helloImage(): Promise<string> {
  const { config } = loadConfig({ env: {}, cwd: REPO_ROOT });
  return resolveLabImage(LabCatalog.load(config.labsDir).require('hello'), config);
}

describe('the Docker engine restarted under a live session', () => {
  let engine: SecondEngine | undefined;
  let server: ServerProcess | undefined;
  const sessions: CreatedSession[] = [];
  const clients: TerminalClient[] = [];

  afterAll(async () => {
    const problems: unknown[] = [];
    for (const c of clients) await c.close().catch(() => undefined);
    // Ending through the API lets the server remove its sandboxes and detach their disks.
    for (const s of sessions) await server?.api('POST', `/api/sessions/${s.id}/end`).catch(() => undefined);
    await server?.stop().catch((e: unknown) => problems.push(e));
    await engine?.stop().catch((e: unknown) => problems.push(e));
    // Disks of sessions the server could not remove (a failed run): with the engine gone
    // nothing mounts them, and their images are in this server's own data directory.
    if (server) await detachLoopDevicesUnder(server.dataDir).catch((e: unknown) => problems.push(e));
    // The guard rules this row's server added for its own pool (the main server's stay).
    for (const { chain, rule } of guardRules(POOL)) {
      await run('iptables', ['-w', '10', '-D', chain, ...rule]).catch(() => undefined);
    }
    if (problems.length) throw problems[0];
  }, 120_000);

  attack(
    'faults',
    '`dockerd` restarted (with live-restore)',
    'the session stays ready; terminals reconnect to the same shell; output printed while the engine was down is on screen and recorded once; grading works after',
    async () => {
      const began = Date.now();
      engine = await SecondEngine.start({ images: [await helloImage()] });
      const engineReady = Date.now();
      server = await ServerProcess.start({
        OPSLAB_DOCKER_SOCKET: engine.socketPath,
        OPSLAB_DOCKER_SUBNET_POOL: POOL,
        // The reaper runs every 2 s instead of 30 s, so the clean-up below is seen quickly.
        OPSLAB_REAPER_INTERVAL_SECONDS: '2',
      });
      // The server runs fully on the second engine: firewall guard and disk limits on, as on the main one.
      const health = (await server.api<{ networkGuard: { enabled: boolean; detail: string }; diskLimit: { enabled: boolean; detail: string } }>('GET', '/api/health')).body;
      expect(health.networkGuard, health.networkGuard.detail).toMatchObject({ enabled: true });
      expect(health.diskLimit, health.diskLimit.detail).toMatchObject({ enabled: true });

      const session = await createSession(server);
      sessions.push(session);
      await waitForState(server, session.id, 'ready');
      const candidate = await openTerminal(server, session.id, session.candidateToken);
      const observer = await openTerminal(server, session.id, server.adminToken);
      clients.push(candidate, observer);
      await candidate.waitForText(PROMPT);

      // State to keep: a variable, the shell's pid, and committed work for the grader.
      candidate.type('export ENGINE_MARK=kept-$((6*7)); echo "pid-$$"; echo hello > greeting.txt && git add greeting.txt && git commit -qm "Say hello" && echo "committed-$((2+3))"\r');
      await candidate.waitForText('committed-5');
      const pid = /pid-(\d+)/.exec(candidate.plain())?.[1];
      expect(pid).toBeDefined();
      // A job that prints a numbered tick every 0.25 s until told to stop: some ticks are
      // printed while the engine is down, and every one must arrive exactly once.
      candidate.type('rm -f /tmp/ticks-stop; (i=0; while [ ! -e /tmp/ticks-stop ]; do i=$((i+1)); echo "<tick-$i>"; sleep 0.25; done; echo "<ticks-done-$i>") &\r');
      await candidate.waitForText('<tick-2>');

      // The shell's output log, read on the host: it shows what the shell printed while
      // nothing could be read through the engine.
      const ttyLog = path.join(engine.volumePath(`opslab-${session.id}-tty`), 'tty.log');
      expect(fs.existsSync(ttyLog), `the shell's output log at ${ttyLog}`).toBe(true);
      let downFrom = 0;
      let downTo = 0;
      let stateWhileDown = '';
      const { stopMs, downMs } = await engine.restart({
        whileDown: async () => {
          downFrom = fs.statSync(ttyLog).size;
          stateWhileDown = (await server!.api<{ state: string }>('GET', `/api/sessions/${session.id}`)).body.state;
          // Stay down until the shell has printed a few ticks with no engine to carry them.
          const deadline = Date.now() + 15_000;
          for (;;) {
            const size = fs.statSync(ttyLog).size;
            const fresh = Buffer.alloc(size - downFrom);
            const fd = fs.openSync(ttyLog, 'r');
            fs.readSync(fd, fresh, 0, fresh.length, downFrom);
            fs.closeSync(fd);
            if (ticksIn(fresh.toString('utf8')).length >= TICKS_WHILE_DOWN) {
              downTo = size;
              return;
            }
            if (Date.now() > deadline) throw new Error(`the shell printed no ticks in 15 s while the engine was down: ${JSON.stringify(fresh.toString('utf8').slice(-200))}`);
            await sleep(100);
          }
        },
      });
      const downBytes = Buffer.alloc(downTo - downFrom);
      const fd = fs.openSync(ttyLog, 'r');
      fs.readSync(fd, downBytes, 0, downBytes.length, downFrom);
      fs.closeSync(fd);
      const ticksWhileDown = ticksIn(downBytes.toString('utf8'));
      expect(stateWhileDown).toBe('ready');
      expect(ticksWhileDown.length).toBeGreaterThanOrEqual(TICKS_WHILE_DOWN);

      // The open terminals are told to reconnect (1001) once the server re-attached.
      const restarted = Date.now();
      for (const [who, c] of [['candidate', candidate], ['observer', observer]] as const) {
        await c.waitFor((x) => x.closed !== null, `${who}'s terminal told to reconnect`, 60_000);
        expect(c.closed?.code, `${who}: ${c.closed?.reason}`).toBe(1001);
      }
      const reattachMs = Date.now() - restarted;
      expect((await server.api<{ state: string }>('GET', `/api/sessions/${session.id}`)).body).toMatchObject({ state: 'ready', error: null });

      // Reconnecting finds the same shell, with what it printed meanwhile on screen.
      const again = await openTerminal(server, session.id, session.candidateToken);
      const watcher = await openTerminal(server, session.id, server.adminToken);
      clients.push(again, watcher);
      const last = ticksWhileDown[ticksWhileDown.length - 1] as number;
      await again.waitForText(`<tick-${last}>`);
      await watcher.waitForText(`<tick-${last}>`);
      for (const n of ticksWhileDown) expect(again.plain(), `tick ${n} on the screen`).toContain(`<tick-${n}>`);
      again.type('touch /tmp/ticks-stop\r');
      await again.waitForText(/<ticks-done-\d+>/);
      const total = Number(/<ticks-done-(\d+)>/.exec(again.plain())?.[1]);
      again.type('echo "again-$ENGINE_MARK-$$"\r');
      await again.waitForText(`again-kept-42-${pid}`);
      await watcher.waitForText(`again-kept-42-${pid}`);
      // The screen each new connection got (then live output): every tick once, in order.
      const all = Array.from({ length: total }, (_, i) => i + 1);
      expect(ticksIn(again.text()), 'ticks on the candidate\'s screen').toEqual(all);
      expect(ticksIn(watcher.text()), 'ticks on the observer\'s screen').toEqual(all);

      // The recording: every tick once, in order, across the restart; event times in order.
      await sleep(1_500); // the recorder flushes every second
      const { events, text } = await recordingOf(server, session.id);
      expect(ticksIn(text), 'ticks in the recording').toEqual(all);
      expect(stripAnsi(text).match(/again-kept-42-\d+/g)?.length).toBe(1);
      const times = events.map((e) => e[0]);
      expect([...times].sort((a, b) => a - b)).toEqual(times);

      // Grading still works on the surviving sandbox, and sees the work committed before the restart.
      const grade = await server.api<{ score: number; maxScore: number }>('POST', `/api/sessions/${session.id}/grade`);
      expect(grade.status, JSON.stringify(grade.body)).toBe(200);
      expect(grade.body).toMatchObject({ score: 2, maxScore: 2 });

      // Nothing in between: the session went starting → ready and stayed there.
      expect(await stateEvents(server, session.id)).toEqual(['starting', 'ready']);

      // Ending it afterwards removes the sandbox, its volumes and its disks. Debian's
      // dockerd 20.10 loses the mount count of live-restored volumes with device options
      // (moby#44422, fixed in 23.0.7/24.0.3): the workspace and home volumes refuse removal
      // ("volume has active mounts") until the engine starts again. What is left is
      // reported, and after one more engine restart the server's reaper must remove it.
      const ended = await server.api<{ state: string }>('POST', `/api/sessions/${session.id}/end`);
      expect(ended.body.state).toBe('ended');
      sessions.splice(sessions.indexOf(session), 1);
      const leftAfterEnd = await engineResources(engine, session.id);
      if (leftAfterEnd.length > 0) await engine.restart();
      const second = engine;
      const leftovers = async () => [...(await engineResources(second, session.id)), ...(await loopDevicesOf(session.id))];
      await waitUntil(
        async () => (await leftovers()).length === 0,
        30_000,
        async () => `left for session ${session.id}: ${(await leftovers()).join(', ')}`,
      );
      const { Version: engineVersion } = await engine.docker.version();
      const cleanup =
        leftAfterEnd.length === 0
          ? 'ending it removed everything'
          : `ending it left ${leftAfterEnd.map((r) => r.replace(`opslab-${session.id}-`, '')).join(', ')} ` +
            `until the next engine restart (dockerd ${engineVersion}; moby#44422), then the reaper removed them and their disks`;

      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      return (
        `engine stopped in ${s(stopMs)}, down ${s(downMs)} (${ticksWhileDown.length} ticks printed meanwhile); ` +
        `session ready throughout; terminals re-attached ${s(reattachMs)} after the engine answered; same shell (pid ${pid}), variable kept; ` +
        `ticks 1-${total} recorded once each; grade ${grade.body.score}/${grade.body.maxScore}; ${cleanup}; ` +
        `row took ${s(Date.now() - began)} (engine start and image load ${s(engineReady - began)})`
      );
    },
    180_000,
  );
});
