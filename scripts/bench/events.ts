/**
 * The engine's event stream during the run, to split a session start into phases
 * (network, volumes, containers, execs) by what the engine saw and when.
 */
import type Docker from 'dockerode';

export interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  timeNano: number;
}

export class EventLog {
  readonly events: EngineEvent[] = [];
  private stream: (NodeJS.ReadableStream & { destroy?: () => void }) | null = null;

  async start(docker: Docker): Promise<void> {
    const stream = (await docker.getEvents({ since: Math.floor(Date.now() / 1000) - 1 })) as NodeJS.ReadableStream & {
      destroy?: () => void;
    };
    this.stream = stream;
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          this.events.push(JSON.parse(line) as EngineEvent);
        } catch {
          // partial or foreign line
        }
      }
    });
    stream.on('error', () => undefined);
  }

  stop(): void {
    this.stream?.destroy?.();
    this.stream = null;
  }

  /** Engine milestones (wall-clock ms) for one session's sandbox. */
  milestones(sessionId: string) {
    const base = `opslab-${sessionId}`;
    const mine = this.events.filter((e) => {
      const name = e.Actor.Attributes?.name ?? e.Actor.ID;
      return name === base || name.startsWith(`${base}-`);
    });
    const at = (e: EngineEvent | undefined) => (e ? e.timeNano / 1e6 : Number.NaN);
    const find = (pred: (e: EngineEvent) => boolean) => mine.find(pred);
    const execCmd = new Map<string, string>();
    for (const e of mine) {
      if (e.Action.startsWith('exec_create: ')) execCmd.set(e.Actor.Attributes?.execID ?? '', e.Action.slice('exec_create: '.length));
    }
    const cmdOf = (e: EngineEvent) => execCmd.get(e.Actor.Attributes?.execID ?? '') ?? '';
    const ws = `${base}-workspace`;
    const gr = `${base}-grader`;
    const named = (e: EngineEvent, n: string) => (e.Actor.Attributes?.name ?? e.Actor.ID) === n;
    const probes = mine.filter((e) => e.Action === 'exec_die' && cmdOf(e).includes('test -s'));
    const shellUp = at(probes.at(-1));
    const after = (t: number, pred: (e: EngineEvent) => boolean) => at(mine.find((e) => e.timeNano / 1e6 >= t && pred(e)));
    const extracted = at(find((e) => e.Action === 'extract-to-dir' && named(e, ws)));
    const readerStarted = at(find((e) => e.Action.startsWith('exec_start: ') && e.Action.includes('opslab-tty-reader tail')));
    return {
      networkCreated: at(find((e) => e.Type === 'network' && e.Action === 'create')),
      volumesCreated: at(find((e) => e.Type === 'volume' && e.Action === 'create' && e.Actor.ID === `${base}-tty`)),
      workspaceCreated: at(find((e) => e.Type === 'container' && e.Action === 'create' && named(e, ws))),
      workspaceStarted: at(find((e) => e.Type === 'container' && e.Action === 'start' && named(e, ws))),
      graderCreated: at(find((e) => e.Type === 'container' && e.Action === 'create' && named(e, gr))),
      graderStarted: at(find((e) => e.Type === 'container' && e.Action === 'start' && named(e, gr))),
      shellUp,
      shellProbes: probes.length,
      // putArchive mounts the container's volumes first: that marks the end of the host-side starter repo build.
      copyStarted: after(shellUp, (e) => e.Type === 'volume' && e.Action === 'mount' && e.Actor.ID === ws),
      archiveExtracted: extracted,
      oldReaderKilled: after(extracted, (e) => e.Action === 'exec_die' && cmdOf(e).includes('pkill')),
      stdinAttached: after(extracted, (e) => e.Action === 'attach' && named(e, ws)),
      historyRead: after(extracted, (e) => e.Action === 'exec_die' && cmdOf(e).includes('stat -c %s')),
      readerStarted,
      ttyResized: after(readerStarted, (e) => e.Action === 'resize' && named(e, ws)),
    };
  }
}
