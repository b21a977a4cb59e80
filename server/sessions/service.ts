/**
 * Sessions: create (provision a sandbox, commit the starter, attach the terminal),
 * end, expire, fail, and re-adopt live sessions after a restart. The only place that
 * moves a session's state, always through the forward-only guard in state.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { AppError, describeError } from '../errors.js';
import type { LabCatalog } from '../labs/catalog.js';
import { graderDirOf, resolveLabImage } from '../labs/images.js';
import type { Lab } from '../labs/loader.js';
import { rootNeedOf } from '../labs/root-need.js';
import type { SandboxDriver, SandboxInfo, SandboxRef, SandboxSpec, TermSize } from '../sandbox/driver.js';
import { generateToken, hashToken } from '../auth/tokens.js';
import { systemClock, type Clock } from '../store/clock.js';
import { WarmPool, type PoolStatus, type WarmSandbox } from './pool.js';
import type { SessionEvent } from '../store/events-repo.js';
import { newId } from '../store/ids.js';
import type { Session } from '../store/sessions-repo.js';
import type { Store } from '../store/store.js';
import { TerminalHub } from '../terminal/hub.js';
import { CLOSE_CODES } from '../terminal/protocol.js';
import { archiveWorkspace } from './archive.js';
import { runSetupSteps } from './setup.js';
import { START_TAG, buildStarterRepo, startAfterSetup } from './starter.js';
import { gradeSandbox } from '../checker/runner.js';
import type { Report } from '../checker/report.js';
import type { GradeRecord, GradeTrigger } from '../store/grades-repo.js';
import { isLive, sourcesOf, type SessionState } from './state.js';

export interface SessionServiceDeps {
  config: Config;
  store: Store;
  driver: SandboxDriver;
  labs: LabCatalog;
  logger: Logger;
  now?: Clock;
  /**
   * How long a session whose terminal dropped waits for an engine that does not answer
   * before failing (ENGINE_WAIT_MS by default; tests shorten it).
   */
  engineWaitMs?: number;
  /**
   * This replica's terminal leases (server/replicas/lease-keeper.ts). A session created
   * here is claimed in the same transaction that creates it, so no other replica ever
   * sees it live and unheld; it is released when the session is over. Without it (unit
   * tests), the service serves every session itself.
   */
  leases?: SessionLeases;
}

/** What the service asks of the lease keeper. */
export interface SessionLeases {
  claimWith(leases: Store['leases'], sessionId: string): Promise<boolean>;
  release(sessionId: string): Promise<void>;
  /** Whether this replica serves the session now. */
  holds(sessionId: string): boolean;
}

type Listener = (event: SessionEvent) => void;

const DEFAULT_SIZE: TermSize = { cols: 120, rows: 32 };

/**
 * When a terminal stream drops and the engine does not answer, how long to keep asking
 * before failing the session. An unreachable engine says nothing about the sandbox: a
 * dockerd restarted with `--live-restore` (how scripts/setup starts it) leaves every
 * container running but answers nothing for a few seconds while it stops, starts and
 * restores its containers, and failing the session then would throw away a shell that
 * is fine. 60 s covers a slow restart on a loaded host; an engine gone for longer is
 * treated as gone, and the session fails with that reason.
 */
const ENGINE_WAIT_MS = 60_000;
/** Re-attaching to a sandbox the engine lists as running: tries before failing (a container killed a moment ago may still list as running). */
const REATTACH_TRIES = 3;

/** One question to the engine while waiting for it; a request it accepts but never answers counts as no answer. */
const ENGINE_ASK_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection once `ms` passed (the promise itself is left to settle). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A pooled sandbox, set up and attached, waiting for its session. */
interface PooledSandbox extends WarmSandbox {
  ref: SandboxRef;
  startCommit: string;
}

export class SessionService {
  private readonly hubs = new Map<string, TerminalHub>();
  private readonly pool: WarmPool<PooledSandbox>;
  private readonly grading = new Map<string, Promise<Report>>();
  private readonly provisioning = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private stopping = false;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly log: Logger;
  private readonly now: Clock;

  constructor(private readonly deps: SessionServiceDeps) {
    this.log = deps.logger.child({ component: 'sessions' });
    this.now = deps.now ?? systemClock;
    // A pool for a lab that is not loaded would only fail over and over: said once, here.
    const known = new Set(deps.labs.list().map((l) => l.id));
    const sizes: Record<string, number> = {};
    for (const [id, size] of Object.entries(deps.config.pools)) {
      const lab = known.has(id) ? deps.labs.require(id) : undefined;
      const rootNeed = lab && !deps.driver.runsRoot ? rootNeedOf(lab) : null;
      if (!lab) this.log.error({ lab: id }, `pools: no valid lab "${id}" is loaded; its warm pool is off`);
      else if (rootNeed) this.log.error({ lab: id }, `pools: lab ${id} cannot run on the ${deps.driver.kind} driver (${rootNeed}); its warm pool is off`);
      else sizes[id] = size;
    }
    this.pool = new WarmPool<PooledSandbox>({
      sizes,
      logger: deps.logger,
      newId: () => newId(),
      prepare: (labId, id, signal) => this.prepareWarm(labId, id, signal),
      discard: (w) => this.discardWarm(w),
    });
  }

  /** Per lab with a warm pool: its size, what waits and what is being prepared. */
  poolStatus(): Record<string, PoolStatus> {
    return this.pool.status();
  }

  // ---- queries -------------------------------------------------------------------------

  get(id: string): Promise<Session | undefined> {
    return this.deps.store.sessions.get(id);
  }

  async require(id: string): Promise<Session> {
    const s = await this.get(id);
    if (!s) throw new AppError('NOT_FOUND', 'no such session');
    return s;
  }

  list(state?: SessionState): Promise<Session[]> {
    return this.deps.store.sessions.list(state ? { state } : {});
  }

  hub(id: string): TerminalHub | undefined {
    return this.hubs.get(id);
  }

  recordingPath(id: string): string {
    return path.join(this.deps.config.dataDir, 'recordings', `${id}.cast`);
  }

  // ---- events --------------------------------------------------------------------------

  /**
   * Sends events after `afterId` now, then every new one, until unsubscribed. The
   * listener is registered before the stored events are read, and what arrives during
   * the read is held back and sent after them, so no event is lost or sent twice.
   */
  async subscribe(sessionId: string, afterId: number, listener: Listener): Promise<() => void> {
    let last = afterId;
    let held: SessionEvent[] | null = [];
    const deliver = (e: SessionEvent) => {
      if (e.id <= last) return;
      last = e.id;
      listener(e);
    };
    const live: Listener = (e) => (held ? held.push(e) : deliver(e));
    let set = this.listeners.get(sessionId);
    if (!set) this.listeners.set(sessionId, (set = new Set()));
    set.add(live);
    const unsubscribe = () => {
      set.delete(live);
      if (set.size === 0 && this.listeners.get(sessionId) === set) this.listeners.delete(sessionId);
    };
    try {
      for (const e of await this.deps.store.events.list(sessionId, { afterId })) deliver(e);
    } catch (e) {
      unsubscribe();
      throw e;
    }
    const pending: SessionEvent[] = held;
    held = null;
    for (const e of pending) deliver(e);
    return unsubscribe;
  }

  private async emit(sessionId: string, type: string, data: Record<string, unknown>): Promise<void> {
    const event = await this.deps.store.events.append(sessionId, type, data);
    for (const l of this.listeners.get(sessionId) ?? []) l(event);
  }

  // ---- lifecycle -----------------------------------------------------------------------

  async create(input: {
    labId: string;
    candidateName: string;
    candidateEmail: string | null;
    durationMinutes?: number;
    createdBy: string;
  }): Promise<{ session: Session; candidateToken: string }> {
    const lab = this.deps.labs.require(input.labId);
    if (!this.deps.driver.isolates && !this.deps.config.driver.allowUnisolated) {
      throw new AppError(
        'DRIVER_UNSAFE',
        `the ${this.deps.driver.kind} driver does not isolate candidates; set OPSLAB_ALLOW_UNISOLATED=true to use it anyway`,
      );
    }
    const rootNeed = rootNeedOf(lab);
    if (rootNeed && !this.deps.driver.runsRoot) {
      throw new AppError(
        'LAB_INVALID',
        `lab ${lab.id} cannot run on the ${this.deps.driver.kind} driver, which runs every sandbox process as the candidate: ${rootNeed}`,
      );
    }
    const live = await this.deps.store.sessions.countLive();
    if (live >= this.deps.config.sessions.maxLive) {
      throw new AppError(
        'NO_CAPACITY',
        `${live} sessions are running, the most this server runs at once (sessions.maxLive); end one or try again later`,
      );
    }
    const durationMinutes = input.durationMinutes ?? lab.durationMinutes ?? this.deps.config.sessions.defaultDurationMinutes;
    const candidateToken = generateToken('candidate');
    const createdAt = this.now();
    const warm = this.pool.claim(lab.id, (w) => this.hubs.get(w.id)?.ended === false);
    const session = await this.deps.store.transaction(async (tx) => {
      const inserted = await tx.sessions.insert({
        id: warm?.id ?? newId(),
        labId: lab.id,
        candidateName: input.candidateName,
        candidateEmail: input.candidateEmail,
        durationMinutes,
        inviteHash: hashToken(candidateToken),
        createdBy: input.createdBy,
        // The clock runs from creation: the sandbox is prepared at once and waits for the candidate.
        expiresAt: new Date(createdAt.getTime() + durationMinutes * 60_000),
        termSize: DEFAULT_SIZE,
      });
      if (this.deps.leases && !(await this.deps.leases.claimWith(tx.leases, inserted.id))) {
        throw new AppError('INTERNAL', `another replica holds the new session ${inserted.id}`);
      }
      return inserted;
    });
    await this.emit(session.id, 'state', { state: session.state });
    if (warm) return { session: await this.adoptWarm(session, warm), candidateToken };
    const abort = new AbortController();
    const done = this.provision(session, lab, abort).catch((err: unknown) =>
      this.log.error({ err, sessionId: session.id }, 'provisioning failed unexpectedly'),
    );
    this.provisioning.set(session.id, { abort, done });
    return { session, candidateToken };
  }

  private async specFor(sessionId: string, size: TermSize, lab: Lab): Promise<SandboxSpec> {
    const defaults = this.deps.config.sandbox;
    return {
      sessionId,
      image: await resolveLabImage(lab, this.deps.config),
      network: lab.network,
      resources: {
        cpus: lab.resources.cpus ?? defaults.cpus,
        memoryMb: lab.resources.memoryMb ?? defaults.memoryMb,
        pids: lab.resources.pids ?? defaults.pids,
        diskMb: lab.resources.diskMb ?? defaults.diskMb,
        ...(lab.resources.tmpfs ? { tmpfs: lab.resources.tmpfs } : {}),
      },
      capAdd: lab.capabilities,
      env: lab.env,
      size,
      ...(graderDirOf(lab) ? { graderDir: graderDirOf(lab) } : {}),
    };
  }

  private async provision(session: Session, lab: Lab, abort: AbortController): Promise<void> {
    const timeout = setTimeout(
      () => abort.abort(new AppError('SANDBOX_FAILED', 'the sandbox was not ready in time')),
      this.deps.config.sessions.readyTimeoutSeconds * 1000,
    );
    const log = this.log.child({ sessionId: session.id, lab: lab.id });
    const started = Date.now();
    let ref: SandboxRef | undefined;
    // The starter repository is built on the host while the sandbox starts.
    const starter = buildStarterRepo({ starterDir: lab.starterDir, candidateName: session.candidateName });
    starter.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
    try {
      ref = await this.deps.driver.create(await this.specFor(session.id, session.termSize, lab), { signal: abort.signal });
      await this.deps.store.sessions.setSandbox(session.id, ref);
      abort.signal.throwIfAborted();
      const repo = await starter;
      await this.deps.driver.copyIn(ref, repo.dir);
      await this.deps.store.sessions.setStartCommit(session.id, repo.commit);
      await runSetupSteps(this.deps.driver, ref, lab.setup, { signal: abort.signal, logger: log });
      abort.signal.throwIfAborted();
      const start = await startAfterSetup(this.deps.driver, ref, repo.commit);
      if (start !== repo.commit) await this.deps.store.sessions.setStartCommit(session.id, start);
      await this.startHub(session.id, ref, session.termSize);
      const ready = await this.deps.store.sessions.transition(session.id, ['starting'], 'ready', { readyAt: this.now() });
      if (!ready) {
        // Ended or expired while starting: whoever moved it cleans up after us.
        await this.teardown(session.id);
        return;
      }
      log.info({ ms: Date.now() - started }, 'session ready');
      await this.emit(session.id, 'state', { state: 'ready' });
      this.hubs.get(session.id)?.broadcastControl({ type: 'state', state: 'ready' });
    } catch (e) {
      if (this.stopping) {
        // Left `starting`: the next start fails it and the reaper removes the sandbox.
        log.info('provisioning stopped by shutdown');
        return;
      }
      const reason = abort.signal.aborted && abort.signal.reason instanceof AppError ? abort.signal.reason.message : describeError(e);
      log.warn({ err: e }, 'session failed to start');
      await this.fail(session.id, `the sandbox could not start: ${reason}`);
      // Ended or expired while starting: that move happened before the sandbox existed
      // or was recorded, so remove what this attempt created.
      if (ref && !isLive((await this.get(session.id))?.state ?? 'ended')) await this.teardown(session.id);
    } finally {
      clearTimeout(timeout);
      this.provisioning.delete(session.id);
      // The host copy of the starter is not needed once in the sandbox (or on failure).
      await starter.then((r) => r.dispose(), () => undefined);
    }
  }

  // ---- warm pools ----------------------------------------------------------------------

  /**
   * A sandbox for the pool, under the session id it will have: started, the starter
   * committed (under a placeholder name, set to the candidate's when claimed), the setup
   * steps run and the terminal attached, exactly as `provision` leaves a session's.
   */
  private async prepareWarm(labId: string, id: string, signal: AbortSignal): Promise<PooledSandbox> {
    const lab = this.deps.labs.require(labId);
    const log = this.log.child({ pooled: id, lab: lab.id });
    const starter = buildStarterRepo({ starterDir: lab.starterDir, candidateName: 'Candidate' });
    starter.catch(() => undefined); // awaited below
    let ref: SandboxRef | undefined;
    try {
      ref = await this.deps.driver.create(await this.specFor(id, DEFAULT_SIZE, lab), { signal });
      const repo = await starter;
      await this.deps.driver.copyIn(ref, repo.dir);
      await runSetupSteps(this.deps.driver, ref, lab.setup, { signal, logger: log });
      signal.throwIfAborted();
      const startCommit = await startAfterSetup(this.deps.driver, ref, repo.commit);
      await this.startHub(id, ref, DEFAULT_SIZE);
      return { id, labId, preparedAt: Date.now(), ref, startCommit };
    } catch (e) {
      if (ref) await this.discardWarm({ id, labId, preparedAt: 0, ref, startCommit: '' });
      throw e;
    } finally {
      await starter.then((r) => r.dispose(), () => undefined);
    }
  }

  /** Removes a pooled sandbox nobody claimed: its terminal, its sandbox and its recording so far. */
  private async discardWarm(w: PooledSandbox): Promise<void> {
    const hub = this.hubs.get(w.id);
    this.hubs.delete(w.id);
    await hub?.close().catch(() => undefined);
    await this.deps.driver.destroy(w.ref);
    const cast = this.recordingPath(w.id);
    await Promise.all([fs.promises.rm(cast, { force: true }), fs.promises.rm(`${cast}.ckpt`, { force: true })]);
  }

  /** The new session takes a warm sandbox: it is ready as soon as git knows the candidate's name. */
  private async adoptWarm(session: Session, warm: PooledSandbox): Promise<Session> {
    await this.deps.store.sessions.setSandbox(session.id, warm.ref);
    await this.deps.store.sessions.setStartCommit(session.id, warm.startCommit);
    const name = session.candidateName || 'Candidate';
    const r = await this.deps.driver
      .exec(warm.ref, ['git', 'config', 'user.name', name], { timeoutMs: 10_000 })
      .catch((err: unknown) => ({ exitCode: -1, stdout: '', stderr: describeError(err) }));
    if (r.exitCode !== 0) this.log.warn({ sessionId: session.id, stderr: r.stderr }, 'could not set the candidate’s git name');
    const ready = await this.deps.store.sessions.transition(session.id, ['starting'], 'ready', { readyAt: this.now() });
    if (!ready) return (await this.get(session.id)) ?? session; // ended in the meantime; teardown handled it
    this.log.info({ sessionId: session.id, lab: session.labId, waitedMs: Date.now() - warm.preparedAt }, 'session ready (warm pool)');
    await this.emit(session.id, 'state', { state: 'ready' });
    this.hubs.get(session.id)?.broadcastControl({ type: 'state', state: 'ready' });
    return ready;
  }

  private async startHub(sessionId: string, ref: SandboxRef, size: TermSize): Promise<TerminalHub> {
    const t = this.deps.config.terminal;
    const hub = await TerminalHub.start({
      sessionId,
      open: (s) => this.deps.driver.openTty(ref, s),
      recordingPath: this.recordingPath(sessionId),
      size,
      limits: { highWatermark: t.highWatermarkBytes, lowWatermark: t.lowWatermarkBytes, maxQueueBytes: t.maxQueueBytes },
      recordingMaxBytes: t.recordingMaxMb * 1024 * 1024,
      logger: this.deps.logger,
      onStreamClosed: (reason) => void this.onTerminalLost(sessionId, ref, reason),
      onResize: (s) =>
        void this.deps.store.sessions.setTermSize(sessionId, s).catch((err: unknown) => this.log.warn({ err, sessionId }, 'storing the terminal size failed')),
    });
    this.hubs.set(sessionId, hub);
    return hub;
  }

  /**
   * The shell's stream ended by itself: the sandbox died, the engine connection dropped,
   * or the engine itself is restarting. Only the engine's answer decides: a sandbox it
   * lists as running gets a new terminal hub (same shell; the old hub's viewers are told
   * to reconnect), one it lists as stopped or gone fails the session. While the engine
   * does not answer at all, the session stays `ready` and we keep asking, with backoff,
   * for up to ENGINE_WAIT_MS.
   */
  private async onTerminalLost(sessionId: string, ref: SandboxRef, reason: string): Promise<void> {
    const lost = this.hubs.get(sessionId);
    const waitMs = this.deps.engineWaitMs ?? ENGINE_WAIT_MS;
    const started = Date.now();
    // Nothing to decide once the session is over, the server is stopping (the next start
    // re-adopts it), or someone else already replaced or removed this hub.
    const stillOurs = async () => {
      const s = await this.get(sessionId);
      return !this.stopping && s !== undefined && isLive(s.state) && this.hubs.get(sessionId) === lost;
    };
    let failure = `the sandbox stopped unexpectedly (${reason})`;
    let attachFailures = 0;
    let warned = false;
    for (let delay = 250; await stillOurs(); delay = Math.min(delay * 2, 2_000)) {
      let info: SandboxInfo | undefined;
      let engineError: unknown;
      try {
        const left = waitMs - (Date.now() - started);
        [info] = await within(this.deps.driver.list({ sessionId }), Math.max(1_000, Math.min(ENGINE_ASK_TIMEOUT_MS, left)), 'the engine');
      } catch (e) {
        engineError = e;
      }
      if (!(await stillOurs())) return;
      if (engineError !== undefined) {
        const waited = Date.now() - started;
        if (waited >= waitMs) {
          failure = `the sandbox engine did not answer for ${Math.round(waited / 1000)} s after the terminal dropped (${reason}): ${describeError(engineError)}`;
          break;
        }
        if (!warned) {
          warned = true;
          this.log.warn({ sessionId, reason, err: engineError }, 'terminal stream dropped and the engine does not answer; waiting for it');
        }
        await sleep(Math.min(delay, waitMs - waited));
        continue;
      }
      // The engine answered: its word on the sandbox is final.
      if (!info?.running) break;
      this.log.warn({ sessionId, reason, waitedMs: Date.now() - started }, 'terminal stream dropped; re-attaching');
      try {
        const hub = await this.startHub(sessionId, ref, (await this.get(sessionId))?.termSize ?? DEFAULT_SIZE);
        if (!isLive((await this.get(sessionId))?.state ?? 'ended')) {
          // Ended while we attached: whoever ended it closed the hub it found, not this one.
          if (this.hubs.get(sessionId) === hub) this.hubs.delete(sessionId);
          await hub.close({ code: CLOSE_CODES.SESSION_ENDED, reason: 'session over' }).catch(() => undefined);
          return;
        }
        // The old hub's viewers are told to reconnect (GOING_AWAY) and find the new one.
        await lost?.close({ reason: 'terminal re-attached; reconnect' }).catch(() => undefined);
        return;
      } catch (e) {
        // A container killed a moment ago may still list as running, and an engine on its
        // way down may answer the list but not the attach: ask again before deciding.
        failure = `the sandbox stopped unexpectedly (${describeError(e)})`;
        if (++attachFailures >= REATTACH_TRIES) break;
        await sleep(delay);
      }
    }
    if (!(await stillOurs())) return;
    // The hub stays until fail(): its viewers get the failed state, then the close.
    await this.fail(sessionId, failure);
  }

  /**
   * Grades the session now. Concurrent requests for one session share one grading, so a
   * candidate pressing "check" repeatedly costs one run. The report is stored with its history.
   */
  grade(id: string, trigger: GradeTrigger): Promise<Report> {
    const running = this.grading.get(id);
    if (running) return running;
    // Registered before the first await, so a second request arriving meanwhile shares it.
    const run = (async () => {
      const session = await this.require(id);
      if (session.state !== 'ready' || !session.sandbox) {
        throw new AppError('WRONG_STATE', session.state === 'starting' ? 'the sandbox is still starting' : `the session is ${session.state}`);
      }
      const lab = this.deps.labs.require(session.labId);
      const ref = session.sandbox;
      const report = await gradeSandbox({
        sessionId: id,
        labId: lab.id,
        labDir: lab.dir,
        checks: lab.checks,
        driver: this.deps.driver,
        ref,
        startRef: session.startCommit ?? START_TAG,
        logger: this.deps.logger,
      });
      await this.deps.store.grades.insert({ sessionId: id, trigger, score: report.score, maxScore: report.maxScore, report });
      await this.emit(id, 'grade', { trigger, score: report.score, maxScore: report.maxScore, gradedAt: report.gradedAt });
      return report;
    })().finally(() => this.grading.delete(id));
    this.grading.set(id, run);
    return run;
  }

  latestReport(id: string): Promise<GradeRecord | undefined> {
    return this.deps.store.grades.latest(id);
  }

  reports(id: string): Promise<GradeRecord[]> {
    return this.deps.store.grades.list(id);
  }

  workspaceArchivePath(id: string): string {
    return path.join(this.deps.config.dataDir, 'workspaces', `${id}.tar.gz`);
  }

  /** Grades a last time and keeps the candidate's workspace, before the sandbox goes. */
  private async closeOut(id: string, trigger: 'end' | 'expiry'): Promise<void> {
    const session = await this.get(id);
    if (session?.state !== 'ready' || !session.sandbox) return;
    await this.grade(id, trigger).catch((err: unknown) => this.log.error({ err, sessionId: id }, 'final grading failed'));
    await archiveWorkspace(this.deps.driver, session.sandbox, this.workspaceArchivePath(id)).catch((err: unknown) =>
      this.log.error({ err, sessionId: id }, 'archiving the workspace failed'),
    );
  }

  /** Moves a live session to `to` and removes its sandbox. Returns the new row, or null if it was not live. */
  private async finish(id: string, to: 'ended' | 'failed' | 'expired', error?: string): Promise<Session | null> {
    if (to === 'ended' || to === 'expired') await this.closeOut(id, to === 'ended' ? 'end' : 'expiry');
    const fields = to === 'failed' ? { endedAt: this.now(), error: error ?? 'failed' } : { endedAt: this.now() };
    const updated = await this.deps.store.sessions.transition(id, sourcesOf(to), to, fields);
    if (!updated) return null;
    this.provisioning.get(id)?.abort.abort(new AppError('SANDBOX_FAILED', `the session was ${to} while starting`));
    const hub = this.hubs.get(id);
    hub?.broadcastControl({ type: 'state', state: to, ...(error ? { error } : {}) });
    await this.emit(id, 'state', { state: to, ...(error ? { error } : {}) });
    await this.teardown(id, `session ${to}`);
    await this.deps.leases?.release(id).catch((err: unknown) => this.log.warn({ err, sessionId: id }, 'releasing the terminal lease'));
    return updated;
  }

  private async teardown(id: string, reason = 'session over'): Promise<void> {
    const hub = this.hubs.get(id);
    this.hubs.delete(id);
    await hub?.close({ code: CLOSE_CODES.SESSION_ENDED, reason }).catch((err: unknown) => this.log.warn({ err, sessionId: id }, 'closing terminal'));
    try {
      // A session ended while starting may not have its sandbox recorded yet: ask the driver.
      const known = (await this.get(id))?.sandbox;
      const refs = known ? [known] : (await this.deps.driver.list({ sessionId: id })).map((i) => i.ref);
      for (const ref of refs) await this.deps.driver.destroy(ref);
    } catch (err) {
      // The reaper retries what is left behind.
      this.log.error({ err, sessionId: id }, 'removing the sandbox failed');
    }
  }

  async end(id: string, by: string): Promise<Session> {
    const session = await this.require(id);
    if (!isLive(session.state)) throw new AppError('WRONG_STATE', `the session is already ${session.state}`);
    this.log.info({ sessionId: id, by }, 'ending session');
    const updated = await this.finish(id, 'ended');
    return updated ?? (await this.require(id));
  }

  /**
   * Gives a live session more time: `expiresAt` moves `minutes` later, capped so the
   * session lasts at most `sessions.maxDurationMinutes` from its creation (the clock runs
   * from creation). Emits an `extended` event and tells every terminal viewer the new
   * end. WRONG_STATE when the session is over, its time is already up, or it is already
   * at the maximum. The write is a compare-and-set on the state and the old expiry,
   * retried on a lost race, so two extensions (even on two replicas) cannot lose one.
   */
  async extend(id: string, minutes: number, by: string): Promise<{ session: Session; addedMinutes: number }> {
    const max = this.deps.config.sessions.maxDurationMinutes;
    let updated: Session | null = null;
    let current = 0;
    let next = 0;
    for (let attempt = 0; updated === null; attempt++) {
      if (attempt === 5) throw new AppError('WRONG_STATE', 'the session changed state; try again');
      const session = await this.require(id);
      if (!isLive(session.state)) throw new AppError('WRONG_STATE', `the session is ${session.state}`);
      const now = this.now().getTime();
      current = session.expiresAt?.getTime() ?? session.createdAt.getTime() + session.durationMinutes * 60_000;
      if (current <= now) throw new AppError('WRONG_STATE', 'the time of this session is already up');
      next = Math.min(current + minutes * 60_000, session.createdAt.getTime() + max * 60_000);
      if (next <= current) {
        throw new AppError('WRONG_STATE', `the session already lasts the maximum of ${max} minutes`, { details: { maxDurationMinutes: max } });
      }
      // Same state in and out, and only from the expiry we computed from.
      updated = await this.deps.store.sessions.transition(id, [session.state], session.state, { expiresAt: new Date(next) }, { expiresAt: session.expiresAt });
    }
    const expiresAt = new Date(next).toISOString();
    const addedMinutes = Math.round((next - current) / 60_000);
    this.log.info({ sessionId: id, by, addedMinutes, expiresAt }, 'session extended');
    await this.emit(id, 'extended', { expiresAt, addedMinutes, by });
    this.hubs.get(id)?.broadcastControl({ type: 'session', expiresAt });
    return { session: updated, addedMinutes };
  }

  async fail(id: string, reason: string): Promise<void> {
    await this.finish(id, 'failed', reason);
  }

  async expireDue(): Promise<void> {
    const now = this.now().getTime();
    for (const s of await this.deps.store.sessions.listLive()) {
      // The replica serving the session ends it, so its viewers hear why; a session no
      // live replica serves is taken over first (lease keeper), then expired.
      if (this.deps.leases && !this.deps.leases.holds(s.id)) continue;
      if (s.expiresAt && s.expiresAt.getTime() <= now) {
        this.log.info({ sessionId: s.id }, 'session time is up');
        await this.finish(s.id, 'expired');
      }
    }
  }

  /**
   * After a restart (single server, no lease keeper): every live session is adopted.
   */
  async readopt(): Promise<void> {
    for (const s of await this.deps.store.sessions.listLive()) await this.adopt(s.id);
  }

  /**
   * Serves a live session this server did not start or no longer served: after a
   * restart, or taking over from a replica that died. A ready session whose sandbox
   * still runs gets its terminal back (the shell never stopped); one whose sandbox is
   * gone, or that was still starting (its provisioning died with its server), fails
   * with the reason.
   */
  async adopt(id: string): Promise<void> {
    const s = await this.get(id);
    if (!s || !isLive(s.state) || this.hubs.has(id) || this.provisioning.has(id)) return;
    if (s.state === 'starting') {
      await this.fail(s.id, 'the server restarted while the sandbox was starting');
      return;
    }
    const [info] = await this.deps.driver.list({ sessionId: s.id });
    if (!info?.running || !s.sandbox) {
      await this.fail(s.id, 'the sandbox was gone after a server restart');
      return;
    }
    try {
      await this.startHub(s.id, s.sandbox, s.termSize);
      this.log.info({ sessionId: s.id }, 'session re-adopted');
    } catch (e) {
      await this.fail(s.id, `could not re-attach after a server restart: ${describeError(e)}`);
    }
  }

  /**
   * Another replica serves this session now (this one lost its lease): detach its
   * terminal without touching the sandbox. Viewers are told to reconnect, and reach the
   * new holder through any replica.
   */
  async relinquish(id: string): Promise<void> {
    const hub = this.hubs.get(id);
    this.hubs.delete(id);
    await hub?.close({ reason: 'another server serves this session now; reconnect' }).catch(() => undefined);
  }

  async reap(): Promise<string[]> {
    // Warm sandboxes have no session yet, and are not over.
    const live = new Set([...(await this.deps.store.sessions.listLive()).map((s) => s.id), ...this.pool.reservedIds()]);
    if (this.deps.store.kind === 'postgres') {
      // Other replicas' warm sandboxes have no session row either: spare every sandbox
      // the store does not know (see docs/architecture.md, "Replicas").
      for (const info of await this.deps.driver.list()) {
        if (!live.has(info.ref.sessionId) && !(await this.get(info.ref.sessionId))) live.add(info.ref.sessionId);
      }
    }
    const removed = await this.deps.driver.reap(live);
    if (removed.length) this.log.info({ removed }, 'reaped sandboxes of sessions that are over');
    return removed;
  }

  /** Expiry checks and the reaper, on timers. */
  startBackgroundWork(): void {
    const { expiryCheckSeconds, reaperIntervalSeconds } = this.deps.config.sessions;
    const guard = (what: string, fn: () => Promise<unknown>) => () => {
      fn().catch((err: unknown) => this.log.error({ err }, `${what} failed`));
    };
    this.timers.push(setInterval(guard('expiry check', () => this.expireDue()), expiryCheckSeconds * 1000));
    this.timers.push(setInterval(guard('reaper', () => this.reap()), reaperIntervalSeconds * 1000));
    for (const t of this.timers) t.unref();
    this.pool.start();
  }

  /**
   * Server shutdown: detach terminals (flushing recordings) but leave sandboxes running,
   * so the next start re-adopts them.
   */
  async shutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    this.stopping = true;
    // Warm sandboxes belong to no one: removed, not left for the next start to re-adopt.
    await this.pool.stop();
    const starting = [...this.provisioning.values()];
    for (const p of starting) p.abort.abort(new AppError('SANDBOX_FAILED', 'the server is shutting down'));
    await Promise.allSettled(starting.map((p) => p.done));
    const hubs = [...this.hubs.values()];
    this.hubs.clear();
    await Promise.allSettled(hubs.map((h) => h.close({ code: 1012, reason: 'server restarting' })));
  }
}
