import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type ConfigProblem } from '../../../server/config.js';
import { AppError } from '../../../server/errors.js';
import { tempDir } from '../store/fixtures.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir('opslab-config-')));
afterEach(() => cleanup());

function configError(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected loadConfig to throw');
}
const problems = (e: AppError) => (e.details as { problems: ConfigProblem[] }).problems;

describe('loadConfig', () => {
  it('gives the documented defaults with no settings', () => {
    const { config, warnings } = loadConfig({ env: {}, cwd: dir });
    expect(warnings).toEqual([]);
    expect(config.server).toEqual({
      host: '0.0.0.0',
      port: 8080,
      publicUrl: 'http://localhost:8080',
      allowedOrigins: ['http://localhost:8080'],
    });
    expect(config.dataDir).toBe(path.join(dir, 'data'));
    expect(config.labsDir).toBe(path.join(dir, 'labs'));
    expect(config.logLevel).toBe('info');
    expect(config.adminToken).toBeUndefined();
    expect(config.driver).toEqual({
      kind: 'docker',
      allowUnisolated: false,
      baseImage: 'opslab/base:bookworm',
      subnetPool: '172.16.0.0/16',
      networkGuardCheckSeconds: 10,
      kubernetes: { namespace: 'opslab-sandboxes', imagePullPolicy: 'IfNotPresent', egressBlockedCidrs: [] },
    });
    expect(config.sessions).toEqual({
      defaultDurationMinutes: 60, maxDurationMinutes: 240, readyTimeoutSeconds: 120,
      reaperIntervalSeconds: 30, ticketTtlSeconds: 30, expiryCheckSeconds: 5, maxLive: 50, createPerMinute: 20,
    });
    expect(config.sandbox).toEqual({ cpus: 1, memoryMb: 1024, pids: 256, diskMb: 2048 });
    expect(config.terminal).toEqual({ highWatermarkBytes: 524288, lowWatermarkBytes: 131072, maxQueueBytes: 8388608, recordingMaxMb: 64 });
    expect(config.pools).toEqual({});
  });

  it('reads every variable of the table from the environment', () => {
    const { config } = loadConfig({
      cwd: dir,
      env: {
        OPSLAB_HOST: '127.0.0.1',
        OPSLAB_PORT: '9000',
        OPSLAB_PUBLIC_URL: 'https://labs.example.com/',
        OPSLAB_ALLOWED_ORIGINS: 'https://a.example.com, http://b.example.com:8443/ ,',
        OPSLAB_DATA_DIR: 'var/db',
        OPSLAB_LABS_DIR: '/srv/labs',
        OPSLAB_LOG_LEVEL: 'debug',
        OPSLAB_ADMIN_TOKEN: 'x'.repeat(24),
        OPSLAB_DRIVER: 'local',
        OPSLAB_ALLOW_UNISOLATED: '1',
        OPSLAB_DOCKER_SOCKET: '/run/docker.sock',
        OPSLAB_BASE_IMAGE: 'me/base:1',
        OPSLAB_DOCKER_SUBNET_POOL: '10.250.0.0/20',
        OPSLAB_NETWORK_GUARD_CHECK_SECONDS: '3',
        OPSLAB_SESSION_DEFAULT_MINUTES: '30',
        OPSLAB_SESSION_MAX_MINUTES: '90',
        OPSLAB_READY_TIMEOUT_SECONDS: '60',
        OPSLAB_REAPER_INTERVAL_SECONDS: '10',
        OPSLAB_TICKET_TTL_SECONDS: '15',
        OPSLAB_EXPIRY_CHECK_SECONDS: '2',
        OPSLAB_SESSION_MAX_LIVE: '7',
        OPSLAB_SESSION_CREATE_PER_MINUTE: '9',
        OPSLAB_SANDBOX_CPUS: '0.5',
        OPSLAB_SANDBOX_MEMORY_MB: '2048',
        OPSLAB_SANDBOX_PIDS: '512',
        OPSLAB_SANDBOX_DISK_MB: '4096',
        OPSLAB_RECORDING_MAX_MB: '16',
        OPSLAB_POOLS: 'hello=3, mlflow-tracking=1,',
      },
    });
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 9000,
      publicUrl: 'https://labs.example.com',
      allowedOrigins: ['https://labs.example.com', 'https://a.example.com', 'http://b.example.com:8443'],
    });
    expect(config.dataDir).toBe(path.join(dir, 'var/db'));
    expect(config.labsDir).toBe('/srv/labs');
    expect(config.logLevel).toBe('debug');
    expect(config.adminToken).toBe('x'.repeat(24));
    expect(config.driver).toEqual({
      kind: 'local', allowUnisolated: true, dockerSocket: '/run/docker.sock', baseImage: 'me/base:1', subnetPool: '10.250.0.0/20',
      networkGuardCheckSeconds: 3,
      kubernetes: { namespace: 'opslab-sandboxes', imagePullPolicy: 'IfNotPresent', egressBlockedCidrs: [] },
    });
    expect(config.sessions).toEqual({
      defaultDurationMinutes: 30, maxDurationMinutes: 90, readyTimeoutSeconds: 60,
      reaperIntervalSeconds: 10, ticketTtlSeconds: 15, expiryCheckSeconds: 2, maxLive: 7, createPerMinute: 9,
    });
    expect(config.sandbox).toEqual({ cpus: 0.5, memoryMb: 2048, pids: 512, diskMb: 4096 });
    expect(config.terminal.recordingMaxMb).toBe(16);
    expect(config.pools).toEqual({ hello: 3, 'mlflow-tracking': 1 });
  });

  it('names what is wrong in OPSLAB_POOLS', () => {
    const e = configError(() => loadConfig({ cwd: dir, env: { OPSLAB_POOLS: 'hello=three,big=500' } }));
    expect(problems(e).map((p) => `${p.source}: ${p.message}`).sort()).toEqual([
      'OPSLAB_POOLS[big]: expected an integer 0..100, got 500',
      'OPSLAB_POOLS[hello]: expected an integer 0..100, got "three"',
    ]);
    const id = configError(() => loadConfig({ cwd: dir, env: { OPSLAB_POOLS: 'Bad_Lab=1' } }));
    expect(problems(id).map((p) => `${p.source}: ${p.message}`)).toEqual([
      'OPSLAB_POOLS[Bad_Lab]: is not a lab id (lowercase letters, digits and dashes)',
    ]);
  });

  it('treats an empty variable as unset', () => {
    const { config } = loadConfig({ cwd: dir, env: { OPSLAB_PORT: '', OPSLAB_ADMIN_TOKEN: '' } });
    expect(config.server.port).toBe(8080);
    expect(config.adminToken).toBeUndefined();
  });

  it('reads a YAML file, lets env override it and overrides win over both', () => {
    const etc = path.join(dir, 'etc');
    mkdirSync(etc);
    const file = path.join(etc, 'opslab.yaml');
    writeFileSync(file, [
      'server:',
      '  port: 7000',
      '  host: 10.0.0.1',
      'dataDir: ./state',
      'sessions:',
      '  ticketTtlSeconds: 20',
      'terminal:',
      '  maxQueueBytes: 1048576',
      '  highWatermarkBytes: 65536',
      '  lowWatermarkBytes: 16384',
    ].join('\n'));
    const { config, configFile } = loadConfig({
      cwd: dir,
      env: { OPSLAB_CONFIG: file, OPSLAB_PORT: '7001', OPSLAB_SESSION_MAX_MINUTES: '100' },
      overrides: { server: { port: 7002 } },
    });
    expect(configFile).toBe(file);
    expect(config.server.port).toBe(7002);
    expect(config.server.host).toBe('10.0.0.1');
    expect(config.server.publicUrl).toBe('http://localhost:7002');
    // Relative paths in a file are relative to the file.
    expect(config.dataDir).toBe(path.join(etc, 'state'));
    expect(config.sessions.ticketTtlSeconds).toBe(20);
    expect(config.sessions.maxDurationMinutes).toBe(100);
    expect(config.terminal).toEqual({ highWatermarkBytes: 65536, lowWatermarkBytes: 16384, maxQueueBytes: 1048576, recordingMaxMb: 64 });
  });

  it('reads a JSON file', () => {
    const file = path.join(dir, 'opslab.json');
    writeFileSync(file, JSON.stringify({ driver: { kind: 'local', allowUnisolated: true }, sandbox: { cpus: 2 } }));
    const { config } = loadConfig({ cwd: dir, env: {}, configFile: file });
    expect(config.driver.kind).toBe('local');
    expect(config.driver.allowUnisolated).toBe(true);
    expect(config.sandbox.cpus).toBe(2);
  });

  it('lists every problem, each with its source, in one CONFIG_INVALID error', () => {
    const file = path.join(dir, 'opslab.yaml');
    writeFileSync(file, 'sandbox:\n  cpus: -1\nserver:\n  prot: 1\n');
    const e = configError(() =>
      loadConfig({
        cwd: dir,
        env: {
          OPSLAB_CONFIG: file,
          OPSLAB_PORT: 'abc',
          OPSLAB_DRIVER: 'podman',
          OPSLAB_ALLOW_UNISOLATED: 'maybe',
          OPSLAB_ALLOWED_ORIGINS: 'https://ok.example.com,not a url',
          OPSLAB_PUBLIC_URL: 'ftp://x',
        },
      }),
    );
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('OPSLAB_PORT: expected an integer 1..65535, got "abc"');
    const bySource = Object.fromEntries(problems(e).map((p) => [p.source, p]));
    expect(Object.keys(bySource).sort()).toEqual([
      'OPSLAB_ALLOWED_ORIGINS[1]',
      'OPSLAB_ALLOW_UNISOLATED',
      'OPSLAB_DRIVER',
      'OPSLAB_PORT',
      'OPSLAB_PUBLIC_URL',
      `${file}: sandbox.cpus`,
      `${file}: server.prot`,
    ].sort());
    expect(bySource['OPSLAB_DRIVER']?.message).toContain('"podman"');
    expect(bySource[`${file}: sandbox.cpus`]?.message).toContain('-1');
    for (const source of Object.keys(bySource)) expect(e.message).toContain(source);
  });

  it('checks values that depend on each other', () => {
    const e = configError(() => loadConfig({ cwd: dir, env: { OPSLAB_SESSION_DEFAULT_MINUTES: '300' } }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(problems(e).map((p) => p.source)).toEqual(['OPSLAB_SESSION_DEFAULT_MINUTES / sessions.maxDurationMinutes (default)']);
    const t = configError(() => loadConfig({ cwd: dir, env: {}, overrides: { terminal: { lowWatermarkBytes: 600_000 } } }));
    expect(problems(t).map((p) => p.source)).toEqual(['override terminal.lowWatermarkBytes / terminal.highWatermarkBytes (default)']);
  });

  it('reports a file section that is not a mapping even when env sets a value inside it', () => {
    const file = path.join(dir, 'opslab.yaml');
    writeFileSync(file, 'sessions: 5\n');
    const e = configError(() => loadConfig({ cwd: dir, env: { OPSLAB_CONFIG: file, OPSLAB_TICKET_TTL_SECONDS: '10' } }));
    expect(problems(e).map((p) => p.source)).toEqual([`${file}: sessions`]);
  });

  it('never echoes the admin token in an error', () => {
    const e = configError(() => loadConfig({ cwd: dir, env: { OPSLAB_ADMIN_TOKEN: 'short-secret' } }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('OPSLAB_ADMIN_TOKEN');
    expect(e.message).not.toContain('short-secret');
    expect(JSON.stringify(e.details)).not.toContain('short-secret');
  });

  it('reports an unreadable or malformed file as CONFIG_INVALID', () => {
    expect(configError(() => loadConfig({ cwd: dir, env: { OPSLAB_CONFIG: 'missing.yaml' } })).code).toBe('CONFIG_INVALID');
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'server: [unclosed\n');
    expect(configError(() => loadConfig({ cwd: dir, env: { OPSLAB_CONFIG: bad } })).code).toBe('CONFIG_INVALID');
    const list = path.join(dir, 'list.yaml');
    writeFileSync(list, '- 1\n- 2\n');
    expect(configError(() => loadConfig({ cwd: dir, env: { OPSLAB_CONFIG: list } })).code).toBe('CONFIG_INVALID');
  });

  it('warns about unknown OPSLAB_* variables instead of failing', () => {
    const { config, warnings } = loadConfig({ cwd: dir, env: { OPSLAB_PROT: '1', OPSLAB_SOMETHING_ELSE: 'x', HOME: '/root' } });
    expect(config.server.port).toBe(8080);
    expect(warnings).toHaveLength(2);
    expect(warnings.find((w) => w.startsWith('OPSLAB_PROT'))).toContain('OPSLAB_PORT');
  });

  it('reads process.env when called, not when imported', () => {
    vi.stubEnv('OPSLAB_PORT', 'not-a-port');
    try {
      expect(loadConfig({ cwd: dir, env: {} }).config.server.port).toBe(8080);
      expect(configError(() => loadConfig({ cwd: dir })).code).toBe('CONFIG_INVALID');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('returns a frozen config', () => {
    const { config } = loadConfig({ cwd: dir, env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.server.allowedOrigins)).toBe(true);
  });
});
