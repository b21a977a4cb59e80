/**
 * Runs the real opslab server as a child process (the way a user starts it), with its
 * own data directory and port, and talks to it over HTTP. Tests can SIGKILL and
 * restart it on the same data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** One HTTP request as API clients make it: JSON in, JSON (or text) out, nothing thrown for a status. */
export async function requestJson<T = Record<string, unknown>>(
  url: string,
  method: string,
  options: { body?: unknown; rawBody?: string; token?: string; cookie?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  let body: string | undefined;
  if (options.rawBody !== undefined) {
    body = options.rawBody;
    headers['content-type'] ??= 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const r = await fetch(url, { method, headers, body });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (recordings, tarballs, empty answers)
  }
  return { status: r.status, body: parsed as T, headers: r.headers };
}

export class ServerProcess {
  child: ChildProcess | null = null;
  readonly log: string[] = [];
  readonly adminToken: string;

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly env: Record<string, string>,
    adminToken?: string,
  ) {
    this.adminToken = adminToken ?? `test-admin-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /**
   * `shared` runs a second replica beside `shared.with`: same data directory (recordings)
   * and admin token; the store is whatever `env` names (PostgreSQL for replicas).
   */
  static async start(env: Record<string, string> = {}, shared?: { with: ServerProcess }): Promise<ServerProcess> {
    const dataDir = shared?.with.dataDir ?? (await fs.promises.mkdtemp(path.join(os.tmpdir(), 'opslab-test-')));
    const server = new ServerProcess(await freePort(), dataDir, env, shared?.with.adminToken);
    await server.spawn();
    return server;
  }

  async spawn(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'server/cli/main.ts'), 'serve'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
        OPSLAB_HOST: '127.0.0.1',
        OPSLAB_PORT: String(this.port),
        OPSLAB_DATA_DIR: this.dataDir,
        OPSLAB_ADMIN_TOKEN: this.adminToken,
        OPSLAB_LOG_LEVEL: 'info',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (d: Buffer) => {
      this.log.push(d.toString('utf8'));
      if (this.log.length > 2000) this.log.splice(0, 1000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${this.log.join('')}`);
      try {
        const r = await fetch(`${this.url}/api/health`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`server did not answer within 30 s:\n${this.log.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  api<T = Record<string, unknown>>(
    method: string,
    urlPath: string,
    options: { body?: unknown; rawBody?: string; token?: string | null; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const token = options.token === undefined ? this.adminToken : options.token;
    return requestJson<T>(`${this.url}${urlPath}`, method, { ...options, token: token ?? undefined });
  }

  /** Stops the process with `signal` and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
    this.child = null;
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
  }
}
