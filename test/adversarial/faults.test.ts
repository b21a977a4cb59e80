/**
 * Faults around a live session, on the real server and engine: the server killed with
 * SIGKILL, the sandbox killed from outside, a client whose network goes silent for 30 s.
 */
import net from 'node:net';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ServerProcess } from '../helpers/server-process.js';
import { createSession, openTerminal, PROMPT, recordingOf, ticketFor, waitForState, type CreatedSession } from '../helpers/session-flow.js';
import { stripAnsi, TerminalClient } from '../helpers/terminal-client.js';
import { attack } from './row.js';

const DROP_SECONDS = 30;

/** A TCP relay to the server that can go silent (both ways, no FIN, no RST), like a dead Wi-Fi. */
class FlakyLink {
  private server!: net.Server;
  private frozen = false;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  port = 0;

  async start(targetPort: number): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(targetPort, '127.0.0.1');
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      const relay = (from: net.Socket, to: net.Socket) =>
        from.on('data', (b: Buffer) => {
          if (!this.frozen) to.write(b); // while frozen, bytes vanish as on a dead link
        });
      relay(client, upstream);
      relay(upstream, client);
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  freeze(): void {
    this.frozen = true;
  }

  /** The link comes back; connections made during the outage are long given up by both ends. */
  thaw(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    this.frozen = false;
  }

  async stop(): Promise<void> {
    this.thaw();
    await new Promise((r) => this.server.close(r));
  }
}

describe('faults around a live session', () => {
  let server: ServerProcess;
  const docker = new Docker();
  const sessions: CreatedSession[] = [];

  beforeAll(async () => {
    server = await ServerProcess.start();
  });

  afterAll(async () => {
    for (const s of sessions) await server.api('POST', `/api/sessions/${s.id}/end`).catch(() => undefined);
    await server?.stop();
  });

  async function readySession(): Promise<CreatedSession> {
    const s = await createSession(server);
    sessions.push(s);
    await waitForState(server, s.id, 'ready');
    return s;
  }

  attack('faults', 'the server killed with SIGKILL mid-session, then started again', 'the shell and its variables survive; the recording has the output made while down, once', async () => {
    const session = await readySession();
    const before = await openTerminal(server, session.id, session.candidateToken);
    await before.waitForText(PROMPT);
    before.type('export SECRET_NUMBER=$((6*7)); echo "set-$SECRET_NUMBER"; (sleep 2; echo "while-down-$((7*11))") &\r');
    await before.waitForText('set-42');

    await server.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 2500)); // the background job prints while no server runs
    await server.spawn();

    const s = await server.api<{ state: string }>('GET', `/api/sessions/${session.id}`);
    expect(s.body.state).toBe('ready');
    const after = await openTerminal(server, session.id, session.candidateToken);
    await after.waitFor((c) => c.output.length > 0, 'the screen snapshot');
    const screen = stripAnsi(after.output[0]?.toString('utf8') ?? '');
    expect(screen).toContain('set-42');
    expect(screen).toContain('while-down-77');
    after.type('\recho "again-$SECRET_NUMBER-$$"\r');
    await after.waitForText('again-42-');

    // The recording goes on: both sides of the restart and the output made in between, once each.
    await new Promise((r) => setTimeout(r, 1500));
    const { events, text } = await recordingOf(server, session.id);
    const out = stripAnsi(text);
    expect(out).toContain('set-42');
    expect(out.match(/while-down-77/g)?.length).toBe(1);
    expect(out).toContain('again-42-');
    const times = events.map((e) => e[0]);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    await after.close();
    return 'session ready after restart; variable kept; "while-down" recorded once; times in order';
  });

  attack('faults', 'the sandbox killed from outside (docker kill)', 'the session fails with the reason; open terminals are told and closed', async () => {
    const session = await readySession();
    const candidate = await openTerminal(server, session.id, session.candidateToken);
    const observer = await openTerminal(server, session.id, server.adminToken);
    await candidate.waitForText(PROMPT);
    await docker.getContainer(`opslab-${session.id}-workspace`).kill();

    let failed = { state: 'ready', error: null as string | null };
    for (const deadline = Date.now() + 30_000; failed.state === 'ready' && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 200));
      failed = (await server.api<{ state: string; error: string | null }>('GET', `/api/sessions/${session.id}`)).body;
    }
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/stopped unexpectedly/);
    for (const [who, c] of [['candidate', candidate], ['observer', observer]] as const) {
      await c.waitFor((x) => x.controls.some((m) => m.type === 'state' && m.state === 'failed'), `${who} told the session failed`, 15_000);
      await c.waitFor((x) => x.closed !== null, `${who}'s connection closed`, 15_000);
    }
    return `state failed: "${failed.error}"; both terminals got state=failed and were closed`;
  });

  attack('faults', `a client whose network goes silent for ${DROP_SECONDS} s`, 'it reconnects to the same shell, with what was printed meanwhile', async () => {
    const session = await readySession();
    const link = new FlakyLink();
    await link.start(server.port);
    try {
      const url = async () => `ws://127.0.0.1:${link.port}/api/sessions/${session.id}/terminal?ticket=${await ticketFor(server, session.id, session.candidateToken)}`;
      const first = await TerminalClient.connect(await url());
      await first.waitForText(PROMPT);
      first.type(`export MARK=kept-$((5*5)); echo "pid-$$"; (sleep 5; echo "during-drop-$((8*8))") &\r`);
      await first.waitForText(/pid-\d+/);
      const pid = /pid-(\d+)/.exec(first.plain())?.[1];
      link.freeze();
      await new Promise((r) => setTimeout(r, DROP_SECONDS * 1000));
      link.thaw();
      await first.close().catch(() => undefined);

      const again = await TerminalClient.connect(await url());
      await again.waitForText('during-drop-64', 10_000);
      again.type('echo "back-$MARK-$$"\r');
      await again.waitForText(`back-kept-25-${pid}`, 10_000);
      await again.close();
      return `reconnected after ${DROP_SECONDS} s: same shell (pid ${pid}), variable kept, "during-drop" on screen`;
    } finally {
      await link.stop();
    }
  }, (DROP_SECONDS + 60) * 1000);
});
