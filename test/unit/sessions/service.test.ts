/**
 * The real SessionService over a real SQLite store, the real LocalDriver (a bash under
 * node-pty in a temp dir) and a lab catalog loaded from a temp labs dir. Time is a
 * manual clock, so expiry is tested by moving it instead of sleeping.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../server/config.js';
import { AppError, type ErrorCode } from '../../../server/errors.js';
import { LabCatalog } from '../../../server/labs/catalog.js';
import type {
  SandboxInfo,
  SandboxRef,
  SandboxSpec,
  TermSize,
  TerminalCloseInfo,
  TerminalStream,
  TtyAttachment,
} from '../../../server/sandbox/driver.js';
import { LocalDriver } from '../../../server/sandbox/local.js';
import { SessionService, type SessionLeases } from '../../../server/sessions/service.js';
import { isLive } from '../../../server/sessions/state.js';
import type { SessionEvent } from '../../../server/store/events-repo.js';
import type { Session } from '../../../server/store/sessions-repo.js';
import { openSqliteStore, type Store } from '../../../server/store/store.js';
import { labYamlLines, writeLab } from '../labs/fixtures.js';
import { addSession, addUser, manualClock } from '../store/fixtures.js';

const MINUTE = 60_000;
const logger = pino({ level: 'silent' });

/** A driver whose engine refuses every sandbox. */
class RefusingDriver extends LocalDriver {
  override create(): Promise<SandboxRef> {
    return Promise.reject(new AppError('SANDBOX_FAILED', 'the engine refused: no space left on device'));
  }
}

/** A driver that runs everything as the candidate, as on Kubernetes. */
class CandidateOnlyDriver extends LocalDriver {
  override readonly runsRoot = false;
}

/**
 * A driver whose engine can go away for a while, as a dockerd restarted with
 * live-restore does: every open terminal stream ends by itself and nothing answers,
 * while the sandboxes (here, the local shells) keep running.
 */
class FlakyEngineDriver extends LocalDriver {
  down = false;
  private readonly cuts = new Set<() => void>();

  private unreachable(): Error {
    return Object.assign(new Error('connect ECONNREFUSED /run/opslab-test-engine/docker.sock'), { code: 'ECONNREFUSED' });
  }

  override list(selector: { sessionId?: string } = {}): Promise<SandboxInfo[]> {
    return this.down ? Promise.reject(this.unreachable()) : super.list(selector);
  }

  override async openTty(ref: SandboxRef, size: TermSize): Promise<TtyAttachment> {
    if (this.down) throw this.unreachable();
    const { stream, history } = await super.openTty(ref, size);
    const closers: ((info: TerminalCloseInfo) => void)[] = [];
    const cut = () => {
      stream.close(); // detaches; close() does not call the close listeners, so call them
      for (const l of closers) l({ reason: 'the sandbox terminal stream closed' });
    };
    this.cuts.add(cut);
    const wrapped: TerminalStream = {
      onData: (l) => stream.onData(l),
      onClose: (l) => {
        closers.push(l);
        stream.onClose(l);
      },
      write: (d) => stream.write(d),
      resize: (sz) => stream.resize(sz),
      pause: () => stream.pause(),
      resume: () => stream.resume(),
      close: () => {
        this.cuts.delete(cut);
        stream.close();
      },
    };
    return { stream: wrapped, history };
  }

  /** The engine stops: streams drop, nothing answers until `start()`. */
  stop(): void {
    this.down = true;
    for (const cut of [...this.cuts]) cut();
    this.cuts.clear();
  }

  start(): void {
    this.down = false;
  }
}

interface Harness {
  dir: string;
  store: Store;
  clock: ReturnType<typeof manualClock>;
  driver: LocalDriver;
  service: SessionService;
  staffId: string;
  /** A service over the same store and data dir, as after a restart (a new driver unless one is given). */
  restart(driver?: LocalDriver): SessionService;
  create(labId?: string, extra?: { durationMinutes?: number; candidateName?: string }): Promise<Session>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function harness(o: { allowUnisolated?: boolean; driver?: typeof LocalDriver; engineWaitMs?: number; leases?: SessionLeases } = {}): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'opslab-sessions-'));
  const dataDir = path.join(dir, 'data');
  const labsDir = path.join(dir, 'labs');
  mkdirSync(path.join(dataDir, 'recordings'), { recursive: true });
  writeLab(labsDir, 'tiny', { 'starter/README.md': '# Tiny\n\nStart here.\n' });
  // A lab whose setup stages history (a release someone else made) before the candidate arrives.
  writeLab(labsDir, 'history', {
    'starter/README.md': '# History\n',
    'lab.yaml': `${[
      ...labYamlLines('history').slice(0, 5),
      'setup:',
      '  - run: echo v2 > VERSION && git add VERSION && git -c user.name=Dana -c user.email=dana@example.com commit -qm "Release 2.0"',
      '    user: candidate',
      ...labYamlLines('history').slice(5),
    ].join('\n')}\n`,
  });
  // A lab whose setup runs as root (the default): not on drivers without root.
  writeLab(labsDir, 'rooted', {
    'lab.yaml': `${[...labYamlLines('rooted').slice(0, 5), 'setup:', '  - run: echo needs-root', ...labYamlLines('rooted').slice(5)].join('\n')}\n`,
  });
  // A starter with a FIFO in it: fs.cp refuses to copy one, so the starter cannot be built.
  const fifoLab = writeLab(labsDir, 'fifo', { 'starter/README.md': 'fifo\n' });
  execFileSync('mkfifo', [path.join(fifoLab, 'starter', 'pipe')]);
  writeLab(labsDir, 'broken', { 'brief.md': null });

  const { config } = loadConfig({
    env: {},
    cwd: dir,
    overrides: { dataDir, labsDir, driver: { kind: 'local', allowUnisolated: o.allowUnisolated ?? true } },
  });
  const clock = manualClock();
  const store = openSqliteStore(path.join(dataDir, 'opslab.db'), { now: clock });
  const labs = LabCatalog.load(labsDir);
  const ownerId = await store.meta.installationId();
  const drivers: LocalDriver[] = [];
  const services: SessionService[] = [];
  const newDriver = (Kind: typeof LocalDriver = LocalDriver) => {
    const d = new Kind({ rootDir: path.join(dataDir, 'local-sandboxes'), ownerId, logger, hostEnv: process.env });
    drivers.push(d);
    return d;
  };
  const newService = (driver: LocalDriver) => {
    const s = new SessionService({
      config,
      store,
      driver,
      labs,
      logger,
      now: clock,
      ...(o.engineWaitMs ? { engineWaitMs: o.engineWaitMs } : {}),
      ...(o.leases ? { leases: o.leases } : {}),
    });
    services.push(s);
    return s;
  };
  const driver = newDriver(o.driver);
  const service = newService(driver);
  const staffId = (await addUser(store, 'interviewer')).user.id;

  cleanups.push(async () => {
    const last = services[services.length - 1] as SessionService;
    for (const s of await last.list()) if (isLive(s.state)) await last.end(s.id, 'cleanup').catch(() => undefined);
    for (const s of services) await s.shutdown();
    for (const d of drivers) await d.reap(new Set());
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  return {
    dir,
    store,
    clock,
    driver,
    service,
    staffId,
    restart: (d) => newService(d ?? newDriver()),
    create: async (labId = 'tiny', extra = {}) =>
      (
        await service.create({
          labId,
          candidateName: extra.candidateName ?? 'Ada Lovelace',
          candidateEmail: 'ada@example.com',
          createdBy: staffId,
          ...(extra.durationMinutes !== undefined ? { durationMinutes: extra.durationMinutes } : {}),
        })
      ).session,
  };
}

/** Waits until provisioning is over (the session left `starting`) and returns the session. */
async function settled(service: SessionService, id: string): Promise<Session> {
  await expect.poll(async () => (await service.get(id))?.state, { timeout: 15_000, interval: 20 }).not.toBe('starting');
  return service.require(id);
}

async function expectAppError(promise: Promise<unknown>, code: ErrorCode): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a rejection with AppError ${code}`).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

async function git(driver: LocalDriver, ref: SandboxRef, ...args: string[]): Promise<string> {
  const r = await driver.exec(ref, ['git', ...args]);
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout;
}

describe('SessionService with the local driver', () => {
  it('creates a session that becomes ready with the starter committed under the candidate name', async () => {
    const h = await harness();
    const startedAt = h.clock().getTime();
    const created = await h.create();
    expect(created).toMatchObject({ state: 'starting', labId: 'tiny', durationMinutes: 15, candidateName: 'Ada Lovelace' });
    expect(created.expiresAt?.getTime()).toBe(startedAt + 15 * MINUTE);

    const s = await settled(h.service, created.id);
    expect(s).toMatchObject({ state: 'ready', error: null, endedAt: null });
    expect(s.readyAt).toEqual(h.clock());
    expect(h.service.hub(s.id)).toBeDefined();
    const ref = s.sandbox as SandboxRef;
    expect(ref).toMatchObject({ sessionId: s.id, driver: 'local' });
    expect(await h.driver.list({ sessionId: s.id })).toEqual([{ ref, running: true }]);

    expect(await git(h.driver, ref, 'log', '--format=%s')).toBe('Start of the exercise\n');
    expect(await git(h.driver, ref, 'tag', '--list')).toBe('opslab-start\n');
    expect(await git(h.driver, ref, 'config', 'user.name')).toBe('Ada Lovelace\n');
    expect(await git(h.driver, ref, 'status', '--porcelain')).toBe('');
    expect(await git(h.driver, ref, 'show', 'opslab-start:README.md')).toBe('# Tiny\n\nStart here.\n');
  });

  it("starts the candidate's history after the setup steps: commits setup made are not theirs", async () => {
    const h = await harness();
    const s = await settled(h.service, (await h.create('history')).id);
    expect(s.state).toBe('ready');
    const ref = s.sandbox as SandboxRef;
    const head = (await git(h.driver, ref, 'rev-parse', 'HEAD')).trim();
    expect(await git(h.driver, ref, 'log', '--format=%s')).toBe('Release 2.0\nStart of the exercise\n');
    expect(s.startCommit).toBe(head);
    expect((await git(h.driver, ref, 'rev-parse', 'opslab-start^{commit}')).trim()).toBe(head);
  });

  it('ends a session: ended, endedAt set, sandbox gone; ending again is WRONG_STATE', async () => {
    const h = await harness();
    const s = await settled(h.service, (await h.create()).id);
    const ref = s.sandbox as SandboxRef;
    h.clock.advance(5 * MINUTE);

    const ended = await h.service.end(s.id, h.staffId);
    expect(ended).toMatchObject({ state: 'ended', endedAt: h.clock(), error: null });
    expect((await h.service.get(s.id))?.state).toBe('ended');
    expect(h.service.hub(s.id)).toBeUndefined();
    expect(await h.driver.list({ sessionId: s.id })).toEqual([]);
    expect(existsSync(ref.id)).toBe(false);

    await expectAppError(h.service.end(s.id, h.staffId), 'WRONG_STATE');
    await expectAppError(h.service.end('no-such-session', h.staffId), 'NOT_FOUND');
  });

  it('expires a session exactly when its time is up, and leaves one not yet due alone', async () => {
    const h = await harness();
    const short = await h.create(); // the lab's 15 minutes
    const long = await h.create('tiny', { durationMinutes: 60 });
    expect((await settled(h.service, short.id)).state).toBe('ready');
    expect((await settled(h.service, long.id)).state).toBe('ready');

    h.clock.advance(15 * MINUTE - 1);
    await h.service.expireDue();
    expect((await h.service.get(short.id))?.state).toBe('ready');

    h.clock.advance(1);
    await h.service.expireDue();
    expect(await h.service.get(short.id)).toMatchObject({ state: 'expired', endedAt: h.clock() });
    expect(await h.driver.list({ sessionId: short.id })).toEqual([]);
    expect((await h.service.get(long.id))?.state).toBe('ready');
    expect(await h.driver.list({ sessionId: long.id })).toMatchObject([{ running: true }]);
  });

  it('with replicas, expires only the sessions this replica serves (the holder tells its viewers why)', async () => {
    const held = new Set<string>();
    const leases: SessionLeases = {
      claimWith: async (repo, id) => {
        held.add(id);
        return (await repo.acquire(id, 'this-replica', 'http://127.0.0.1:1', 60 * MINUTE)) !== null;
      },
      release: async (id) => void held.delete(id),
      holds: (id) => held.has(id),
    };
    const h = await harness({ leases });
    const s = await h.create();
    expect((await settled(h.service, s.id)).state).toBe('ready');
    expect((await h.store.leases.get(s.id))?.replicaId).toBe('this-replica');

    held.delete(s.id); // another replica serves it now
    h.clock.advance(15 * MINUTE);
    await h.service.expireDue();
    expect((await h.service.get(s.id))?.state).toBe('ready');

    held.add(s.id);
    await h.service.expireDue();
    expect((await h.service.get(s.id))?.state).toBe('expired');
    expect(held.has(s.id)).toBe(false); // released once over
  });

  it('refuses an unknown lab (NOT_FOUND) and a broken one (LAB_INVALID) without creating anything', async () => {
    const h = await harness();
    await expectAppError(h.create('no-such-lab'), 'NOT_FOUND');
    await expectAppError(h.create('broken'), 'LAB_INVALID');
    expect(await h.service.list()).toEqual([]);
  });

  it('refuses a lab with root setup steps on a driver that runs everything as the candidate (LAB_INVALID), before creating anything', async () => {
    const h = await harness({ driver: CandidateOnlyDriver });
    const e = await expectAppError(h.create('rooted'), 'LAB_INVALID');
    expect(e.message).toBe('lab rooted cannot run on the local driver, which runs every sandbox process as the candidate: its setup step "echo needs-root" runs as root');
    expect(await h.service.list()).toEqual([]);
    expect(await h.driver.list()).toEqual([]);
    // Labs that need nothing of root still run there.
    expect((await h.create('history')).state).toBe('starting');
  });

  it('refuses the local driver unless unisolated drivers are allowed (DRIVER_UNSAFE)', async () => {
    const h = await harness({ allowUnisolated: false });
    const e = await expectAppError(h.create(), 'DRIVER_UNSAFE');
    expect(e.message).toContain('OPSLAB_ALLOW_UNISOLATED');
    expect(await h.service.list()).toEqual([]);
    expect(await h.driver.list()).toEqual([]);
  });

  it('fails a session whose starter cannot be copied, with a readable error, and removes its sandbox', async () => {
    const h = await harness();
    const s = await settled(h.service, (await h.create('fifo')).id);
    expect(s.state).toBe('failed');
    expect(s.error).toMatch(/^the sandbox could not start: .*FIFO/i);
    expect(s.endedAt).toEqual(h.clock());
    // The state changes first; the sandbox is removed right after.
    await expect.poll(() => h.driver.list({ sessionId: s.id }), { timeout: 5000, interval: 20 }).toEqual([]);
  });

  it('fails a session whose driver cannot create the sandbox, with the driver’s reason', async () => {
    const h = await harness({ driver: RefusingDriver });
    const s = await settled(h.service, (await h.create()).id);
    expect(s).toMatchObject({ state: 'failed', error: 'the sandbox could not start: the engine refused: no space left on device' });
    const states = (await h.store.events.list(s.id)).map((e) => e.data);
    expect(states).toEqual([{ state: 'starting' }, { state: 'failed', error: s.error }]);
  });

  it('sends state events in order to subscribers, replaying what they missed', async () => {
    const h = await harness();
    const { id } = await h.create();
    const seen: SessionEvent[] = [];
    await h.service.subscribe(id, 0, (e) => seen.push(e));
    const leaver: unknown[] = [];
    const unsubscribe = await h.service.subscribe(id, 0, (e) => leaver.push(e.data));
    await settled(h.service, id);
    unsubscribe();
    await h.service.end(id, h.staffId);

    // Ending grades a last time, so a grade event comes before the final state.
    expect(seen.map((e) => [e.type, e.type === 'grade' ? (e.data as { trigger: string }).trigger : e.data])).toEqual([
      ['state', { state: 'starting' }],
      ['state', { state: 'ready' }],
      ['grade', 'end'],
      ['state', { state: 'ended' }],
    ]);
    expect(seen.every((e, i) => i === 0 || e.id > (seen[i - 1] as SessionEvent).id)).toBe(true);
    // The one that left got nothing after unsubscribing.
    expect(leaver).toEqual([{ state: 'starting' }, { state: 'ready' }]);

    // A late subscriber resuming after the first event gets only the rest.
    const late: unknown[] = [];
    (await h.service.subscribe(id, (seen[0] as SessionEvent).id, (e) => late.push(e.data)))();
    expect(late.filter((d) => 'state' in (d as object))).toEqual([{ state: 'ready' }, { state: 'ended' }]);
  });

  it('after a restart, fails live sessions whose sandbox is gone, naming the restart', async () => {
    const h = await harness();
    const ready = await settled(h.service, (await h.create()).id);
    // A session the old process was still starting when it stopped.
    const { session: starting } = await addSession(h.store, h.staffId, { state: 'starting' });
    await h.service.shutdown();

    // A new process: a fresh local driver, whose shells are not the old ones.
    const after = h.restart();
    await after.readopt();
    expect(await after.get(ready.id)).toMatchObject({ state: 'failed', error: 'the sandbox was gone after a server restart' });
    expect(await after.get(starting.id)).toMatchObject({ state: 'failed', error: 'the server restarted while the sandbox was starting' });
    expect(existsSync((ready.sandbox as SandboxRef).id)).toBe(false);
  });

  it('after a restart, re-adopts a ready session whose shell still runs', async () => {
    const h = await harness();
    const ready = await settled(h.service, (await h.create()).id);
    await h.service.shutdown();
    expect(h.service.hub(ready.id)).toBeUndefined();

    const after = h.restart(h.driver); // the same driver: the shell survived
    await after.readopt();
    expect(await after.get(ready.id)).toMatchObject({ state: 'ready', error: null });
    expect(after.hub(ready.id)).toBeDefined();
  });

  it('keeps a session ready while the engine does not answer, and re-attaches when it is back', async () => {
    const h = await harness({ driver: FlakyEngineDriver });
    const driver = h.driver as FlakyEngineDriver;
    const s = await settled(h.service, (await h.create()).id);
    const before = h.service.hub(s.id);
    expect(before).toBeDefined();

    driver.stop(); // every stream drops; list() and openTty() fail
    // Several rounds of asking (250, 500, 1000 ms apart): an unreachable engine is not a dead sandbox.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await h.service.get(s.id)).toMatchObject({ state: 'ready', error: null });
    expect(h.service.hub(s.id)).toBe(before);

    driver.start();
    await expect.poll(() => h.service.hub(s.id) !== before, { timeout: 10_000, interval: 50 }).toBe(true);
    expect(h.service.hub(s.id)).toBeDefined();
    expect(await h.service.get(s.id)).toMatchObject({ state: 'ready', error: null });
    expect((await h.store.events.list(s.id)).map((e) => e.data)).toEqual([{ state: 'starting' }, { state: 'ready' }]);
  });

  it('fails the session with the reason when the engine stays away longer than the wait', async () => {
    const h = await harness({ driver: FlakyEngineDriver, engineWaitMs: 1_200 });
    const s = await settled(h.service, (await h.create()).id);
    (h.driver as FlakyEngineDriver).stop();
    await expect.poll(async () => (await h.service.get(s.id))?.state, { timeout: 10_000, interval: 50 }).toBe('failed');
    expect((await h.service.get(s.id))?.error).toMatch(/^the sandbox engine did not answer for 1 s after the terminal dropped \(the sandbox terminal stream closed\): connect ECONNREFUSED/);
    (h.driver as FlakyEngineDriver).start(); // so the cleanup can remove the shell
  });

  it('fails at once, without waiting for the engine, when the engine answers that the sandbox is gone', async () => {
    const h = await harness({ driver: FlakyEngineDriver }); // the default wait of 60 s
    const s = await settled(h.service, (await h.create()).id);
    const started = Date.now();
    await h.driver.destroy(s.sandbox as SandboxRef); // the shell ends; the engine still answers
    await expect.poll(async () => (await h.service.get(s.id))?.state, { timeout: 10_000, interval: 20 }).toBe('failed');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await h.service.get(s.id))?.error).toMatch(/^the sandbox stopped unexpectedly/);
  });

  it('reap removes the sandbox of a session that is over and keeps the live ones', async () => {
    const h = await harness();
    const live = await settled(h.service, (await h.create()).id);
    // A session that ended while its sandbox was left behind (e.g. the engine was down).
    const { session: over } = await addSession(h.store, h.staffId, { state: 'ended' });
    const spec: SandboxSpec = {
      sessionId: over.id,
      image: 'unused',
      network: 'isolated',
      resources: { cpus: 1, memoryMb: 512, pids: 256, diskMb: 1024 },
      capAdd: [],
      env: {},
      size: { cols: 80, rows: 24 },
    };
    const leftover = await h.driver.create(spec);

    expect(await h.service.reap()).toEqual([over.id]);
    expect(await h.driver.list({ sessionId: over.id })).toEqual([]);
    expect(existsSync(leftover.id)).toBe(false);
    expect(await h.driver.list({ sessionId: live.id })).toMatchObject([{ running: true }]);
    expect(await h.service.reap()).toEqual([]);
  });
});
