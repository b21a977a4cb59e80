/**
 * Fakes for the checks that talk to the sandbox through `ctx.execGrader`: a context whose
 * execGrader runs the very same argv on the host (the local driver's exec: own process
 * group, timeout, output limits, env not inherited), and a throwaway HTTP server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { ExecOptions, ExecResult } from '../../../server/sandbox/driver.js';
import { runLocalCommand } from '../../../server/sandbox/local-exec.js';
import type { CheckContext } from '../../../server/checker/types.js';

export interface HostContext extends CheckContext {
  workspace: string;
  calls: Array<{ cmd: string[]; options: ExecOptions | undefined }>;
  dispose(): void;
}

/** `baseEnv` stands for the grader image's own environment (which a check must not rely on). */
export function hostContext(options: { baseEnv?: Record<string, string>; exec?: (cmd: string[], o?: ExecOptions) => Promise<ExecResult> } = {}): HostContext {
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'opslab-check-'));
  const calls: HostContext['calls'] = [];
  const running = new Set<number>();
  return {
    workspace,
    calls,
    snapshot: () => Promise.reject(new Error('not used by this check')),
    execGrader: (cmd, o) => {
      calls.push({ cmd, options: o });
      if (options.exec) return options.exec(cmd, o);
      return runLocalCommand(cmd, { workspace, env: options.baseEnv ?? {}, running }, o);
    },
    labDir: workspace,
    startRef: 'opslab-start',
    signal: new AbortController().signal,
    logger: pino({ level: 'silent' }),
    dispose: () => rmSync(workspace, { recursive: true, force: true }),
  };
}

export interface TestServer {
  port: number;
  url(path: string): string;
  requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

export async function startServer(handler: Handler, port = 0): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: (p) => `http://127.0.0.1:${actual}${p}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const s = await startServer(() => undefined);
  const port = s.port;
  await s.close();
  return port;
}

export function json(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}
