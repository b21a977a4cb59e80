/**
 * The steps most integration tests share: create a session through the API, wait until
 * it is ready, and open terminals the way the web app does (ticket, then WebSocket).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { REPO_ROOT, ServerProcess } from './server-process.js';
import { TerminalClient } from './terminal-client.js';

export interface CreatedSession {
  id: string;
  state: string;
  candidateToken: string;
  [k: string]: unknown;
}

export async function createSession(server: ServerProcess, lab = 'hello', name = 'Ada Lovelace'): Promise<CreatedSession> {
  const r = await server.api<CreatedSession>('POST', '/api/sessions', { body: { lab, candidate: { name } } });
  if (r.status !== 201) throw new Error(`create session: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A running server with one ready session of `lab`, as most integration files start. */
export async function serverWithSession(
  env: Record<string, string> = {},
  lab = 'hello',
): Promise<{ server: ServerProcess; session: CreatedSession; close: () => Promise<void> }> {
  const server = await ServerProcess.start(env);
  const session = await createSession(server, lab);
  await waitForState(server, session.id, 'ready');
  return {
    server,
    session,
    close: async () => {
      await server.api('POST', `/api/sessions/${session.id}/end`).catch(() => undefined);
      await server.stop();
    },
  };
}

export async function waitForState(server: ServerProcess, id: string, state: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await server.api<{ state: string; error: string | null }>('GET', `/api/sessions/${id}`);
    if (r.body.state === state) return r.body;
    if (r.body.state !== 'starting' && r.body.state !== state) {
      throw new Error(`session ${id} is ${r.body.state} (${r.body.error ?? ''}), expected ${state}`);
    }
    if (Date.now() > deadline) throw new Error(`session ${id} still ${r.body.state} after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export async function ticketFor(server: ServerProcess, id: string, token: string, body: object = {}): Promise<string> {
  const r = await server.api<{ ticket: string }>('POST', `/api/sessions/${id}/terminal-ticket`, { token, body });
  if (r.status !== 200) throw new Error(`ticket: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.ticket;
}

export async function openTerminal(
  server: ServerProcess,
  id: string,
  token: string,
  options: { autoAck?: boolean; ackDelayMs?: number; origin?: string } = {},
): Promise<TerminalClient> {
  const ticket = await ticketFor(server, id, token);
  return TerminalClient.connect(`${server.wsUrl}/api/sessions/${id}/terminal?ticket=${ticket}`, options);
}

/** Every engine resource (container, network, volume) labelled with this session. */
export async function engineResources(sessionId: string): Promise<string[]> {
  const docker = new Docker();
  const filters = { label: [`opslab.session=${sessionId}`] };
  const [containers, networks, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listNetworks({ filters }),
    docker.listVolumes({ filters }),
  ]);
  return [
    ...containers.map((c) => `container ${c.Names.join(',')}`),
    ...networks.map((n) => `network ${n.Name}`),
    ...(volumes.Volumes ?? []).map((v) => `volume ${v.Name}`),
  ];
}

/** The candidate's prompt at the end of the output (match against plain text). */
export const PROMPT = /candidate@opslab:[^\n]*\$ $/;

/** The session's asciicast recording through the API: its header, its events and the output text. */
export async function recordingOf(
  server: ServerProcess,
  id: string,
): Promise<{ status: number; contentType: string | null; header: Record<string, unknown>; events: [number, string, string][]; text: string }> {
  const rec = await server.api<string>('GET', `/api/sessions/${id}/recording`);
  const [head = '{}', ...lines] = String(rec.body).trimEnd().split('\n');
  const events = lines.map((l) => JSON.parse(l) as [number, string, string]);
  const text = events
    .filter((e) => e[1] === 'o')
    .map((e) => e[2])
    .join('');
  return { status: rec.status, contentType: rec.headers.get('content-type'), header: JSON.parse(head) as Record<string, unknown>, events, text };
}

/**
 * A labs directory holding one lab of a test's own (`files`: paths inside the lab → text),
 * with the repository's shared images beside it, for `OPSLAB_LABS_DIR`. The caller removes it.
 */
export async function oneLabDir(labId: string, files: Record<string, string>): Promise<string> {
  const labsDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), `opslab-${labId}-`));
  await fs.promises.symlink(path.join(REPO_ROOT, 'labs/_images'), path.join(labsDir, '_images'));
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(labsDir, labId, name);
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await fs.promises.writeFile(file, text);
  }
  return labsDir;
}
