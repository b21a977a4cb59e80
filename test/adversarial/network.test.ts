/**
 * Network probes from inside sandboxes, typed by a candidate as curl commands: no port of
 * the host (the opslab server itself listens on every address here, as it does by
 * default), no other sandbox, no cloud metadata address; the internet only for a lab
 * that declares `network: egress`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { REPO_ROOT, ServerProcess } from '../helpers/server-process.js';
import { createSession, waitForState, type CreatedSession } from '../helpers/session-flow.js';
import { attack } from './row.js';
import { guardRules } from '../../server/sandbox/docker-network-guard.js';

const lab = (id: string, network: string, extra = '') => `id: ${id}
title: ${id}
summary: A sandbox for network probes.
difficulty: easy
durationMinutes: 10
image: ${extra ? 'python-ml' : 'base'}
network: ${network}
${extra}checks:
  - id: any
    title: anything
    points: 1
    type: file
    path: nothing.txt
`;

// B runs a web server on 8000 inside its sandbox, so "B is unreachable" means a firewall,
// not an empty port.
const LISTENER = `setup:
  - run: cd /tmp && exec python3 -m http.server 8000 --bind 0.0.0.0
    user: candidate
    background: true
    ready: { port: 8000, timeoutSeconds: 60 }
`;

describe('network isolation', () => {
  let server: ServerProcess;
  let labsDir: string;
  const docker = new Docker();
  const sessions: Record<string, CreatedSession> = {};
  let hostAddress = '';

  beforeAll(async () => {
    labsDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'opslab-netlabs-'));
    await fs.promises.symlink(path.join(REPO_ROOT, 'labs/_images'), path.join(labsDir, '_images'));
    for (const [id, network, extra] of [
      ['probe', 'isolated', ''],
      ['neighbour', 'isolated', LISTENER],
      ['online', 'egress', ''],
    ] as const) {
      await fs.promises.mkdir(path.join(labsDir, id, 'starter'), { recursive: true });
      await fs.promises.mkdir(path.join(labsDir, id, 'solution'), { recursive: true });
      await fs.promises.writeFile(path.join(labsDir, id, 'solution', 'nothing.txt'), 'x\n');
      await fs.promises.writeFile(path.join(labsDir, id, 'lab.yaml'), lab(id, network, extra));
      await fs.promises.writeFile(path.join(labsDir, id, 'brief.md'), `# ${id}\n`);
      await fs.promises.writeFile(path.join(labsDir, id, 'starter', 'README.md'), `${id}\n`);
    }
    // Every address, like the default OPSLAB_HOST: the firewall, not the bind address, must keep sandboxes out.
    server = await ServerProcess.start({ OPSLAB_LABS_DIR: labsDir, OPSLAB_HOST: '0.0.0.0', OPSLAB_NETWORK_GUARD_CHECK_SECONDS: '1' });
    for (const id of ['probe', 'neighbour', 'online']) sessions[id] = await createSession(server, id);
    for (const s of Object.values(sessions)) await waitForState(server, s.id, 'ready', 120_000);
    hostAddress = execFileSync('hostname', ['-I'], { encoding: 'utf8' }).trim().split(/\s+/)[0] ?? '';
  }, 240_000);

  afterAll(async () => {
    for (const s of Object.values(sessions)) await server.api('POST', `/api/sessions/${s.id}/end`).catch(() => undefined);
    await server?.stop();
    if (labsDir) await fs.promises.rm(labsDir, { recursive: true, force: true });
  });

  /** The workspace container's address and its network's gateway (the host's side of the bridge). */
  async function addresses(sessionId: string): Promise<{ ip: string; gateway: string }> {
    const info = await docker.getContainer(`opslab-${sessionId}-workspace`).inspect();
    const net = Object.values(info.NetworkSettings.Networks)[0];
    if (!net?.IPAddress) throw new Error(`no address for ${sessionId}`);
    if (!net.Gateway) throw new Error(`no gateway for ${sessionId}`);
    return { ip: net.IPAddress, gateway: net.Gateway };
  }

  /** curl from the candidate's shell: the HTTP status, or curl's exit code when nothing answered. */
  async function curlFrom(sessionId: string, url: string): Promise<string> {
    const exec = await docker.getContainer(`opslab-${sessionId}-workspace`).exec({
      Cmd: ['curl', '-s', '-o', '/dev/null', '-m', '3', '-w', '%{http_code}', url],
      User: '1000',
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    let out = '';
    stream.on('data', (b: Buffer) => (out += b.toString('latin1')));
    await new Promise((r) => stream.on('end', r));
    const { ExitCode } = await exec.inspect();
    const status = out.replace(/[^\d]/g, '').slice(-3);
    return ExitCode === 0 ? `HTTP ${status}` : `no answer (curl exit ${ExitCode})`;
  }

  attack('network', "the opslab server's port through the sandbox network's gateway", 'no answer', async () => {
    const { gateway } = await addresses(sessions.probe!.id);
    const seen = await curlFrom(sessions.probe!.id, `http://${gateway}:${server.port}/api/health`);
    expect(seen).toMatch(/^no answer/);
    return seen;
  });

  attack('network', "the opslab server's port on the host's own address", 'no answer', async () => {
    expect(hostAddress).not.toBe('');
    const seen = await curlFrom(sessions.probe!.id, `http://${hostAddress}:${server.port}/api/health`);
    expect(seen).toMatch(/^no answer/);
    // The control: the same URL answers from the host, so the server really listens there.
    expect((await fetch(`http://${hostAddress}:${server.port}/api/health`)).status).toBe(200);
    return seen;
  });

  attack('network', "the opslab server's port on docker0 (172.17.0.1), from an egress sandbox", 'no answer', async () => {
    const seen = await curlFrom(sessions.online!.id, `http://172.17.0.1:${server.port}/api/health`);
    expect(seen).toMatch(/^no answer/);
    return seen;
  });

  attack('network', "another session's sandbox, where a web server listens", 'no answer (from an isolated and from an egress sandbox)', async () => {
    const { ip } = await addresses(sessions.neighbour!.id);
    // The control: the neighbour's server answers inside its own sandbox.
    expect(await curlFrom(sessions.neighbour!.id, 'http://127.0.0.1:8000/')).toBe('HTTP 200');
    const fromIsolated = await curlFrom(sessions.probe!.id, `http://${ip}:8000/`);
    const fromEgress = await curlFrom(sessions.online!.id, `http://${ip}:8000/`);
    expect(fromIsolated).toMatch(/^no answer/);
    expect(fromEgress).toMatch(/^no answer/);
    return `${fromIsolated}; ${fromEgress}`;
  });

  attack('network', 'the cloud metadata address 169.254.169.254, from an egress sandbox', 'no answer', async () => {
    const seen = await curlFrom(sessions.online!.id, 'http://169.254.169.254/latest/meta-data/');
    expect(seen).toMatch(/^no answer/);
    return seen;
  });

  attack('network', 'the internet (http://1.1.1.1/) from an isolated sandbox', 'no answer', async () => {
    const seen = await curlFrom(sessions.probe!.id, 'http://1.1.1.1/');
    expect(seen).toMatch(/^no answer/);
    return seen;
  });

  attack('network', 'the internet (http://1.1.1.1/) from a lab that declares network: egress', 'an HTTP answer', async () => {
    const seen = await curlFrom(sessions.online!.id, 'http://1.1.1.1/');
    expect(seen, 'this machine may have no internet at all; the isolated rows still hold').toMatch(/^HTTP \d{3}$/);
    return seen;
  });

  attack('network', 'the guard is on, as GET /api/health says', 'networkGuard.enabled true', async () => {
    const h = await server.api<{ networkGuard: { enabled: boolean; detail: string } }>('GET', '/api/health');
    expect(h.body.networkGuard.enabled, h.body.networkGuard.detail).toBe(true);
    return h.body.networkGuard.detail;
  });

  attack(
    'network',
    "another program drops one of the guard's firewall rules (as a firewall reload, or kube-router's iptables-save/-restore, can)",
    'the rule is back within seconds, and the server logs it as an error',
    async () => {
      // The least exposed rule (the CGNAT range), so the few seconds without it risk nothing.
      const cgnat = guardRules('172.16.0.0/16').find((r) => r.rule.includes('100.64.0.0/10'));
      if (!cgnat) throw new Error('no guard rule for 100.64.0.0/10');
      const present = () => {
        try {
          execFileSync('iptables', ['-w', '10', '-C', cgnat.chain, ...cgnat.rule], { stdio: 'ignore' });
          return true;
        } catch {
          return false;
        }
      };
      expect(present()).toBe(true);
      execFileSync('iptables', ['-w', '10', '-D', cgnat.chain, ...cgnat.rule]);
      const dropped = Date.now();
      await expect.poll(present, { timeout: 15_000, interval: 200 }).toBe(true);
      const after = Date.now() - dropped;
      await expect.poll(() => server.log.join(''), { timeout: 5_000 }).toContain('the sandbox network guard had lost 1 firewall rule(s)');
      return `put back after ${(after / 1000).toFixed(1)} s (checked every 1 s here, 10 s by default); logged as an error`;
    },
  );
});
