/**
 * The server's configuration: one zod schema, parsed once at start by `loadConfig`.
 * This is the only module that reads `process.env`, and only inside `loadConfig`, so a
 * bad value is reported with every other problem instead of turning into NaN somewhere.
 *
 * Layers, later wins: defaults < config file (`OPSLAB_CONFIG`, YAML or JSON) < OPSLAB_*
 * environment variables < explicit overrides (command-line flags).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { z } from 'zod';
import { AppError, describeError } from './errors.js';

// ---------------------------------------------------------------------------------
// Schema

const intIn = (min: number, max: number) => {
  const error = `expected an integer ${min}..${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
};
const numberIn = (min: number, max: number) => {
  const error = `expected a number ${min}..${max}`;
  return z.number({ error }).min(min, { error }).max(max, { error });
};
const nonEmpty = (what: string) => z.string({ error: `expected ${what}` }).trim().min(1, { error: `expected ${what}` });
const bool = () => z.boolean({ error: 'expected true or false' });

function httpUrl(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

const publicUrlSchema = z
  .string({ error: 'expected an http(s) URL' })
  .refine((v) => httpUrl(v) !== undefined, { error: 'expected an http(s) URL' })
  // No trailing slash, so callers can append "/s/<id>" (a path prefix is kept).
  .transform((v) => v.replace(/\/+$/, ''));

const originSchema = z
  .string({ error: 'expected an origin like https://example.com' })
  .refine((v) => { const u = httpUrl(v); return u !== undefined && (u.pathname === '/' && !u.search && !u.hash); }, {
    error: 'expected an origin like https://example.com (scheme, host and port only)',
  })
  .transform((v) => new URL(v).origin);

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const DRIVER_KINDS = ['docker', 'local', 'kubernetes'] as const;
const IMAGE_PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
const dnsLabel = (what: string) =>
  z.string({ error: `expected ${what}` }).regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { error: `expected ${what} (lowercase letters, digits and dashes, at most 63)` });

const STORE_KINDS = ['sqlite', 'postgres'] as const;

// Where sessions, users and the rest are kept: SQLite in <dataDir>/opslab.db (one
// server), or PostgreSQL (several replicas share it). A URL alone means PostgreSQL.
const storeSchema = z
  .strictObject({
    kind: z.enum(STORE_KINDS, { error: `expected one of ${STORE_KINDS.join(', ')}` }).optional(),
    url: z
      .string({ error: 'expected a postgres:// URL' })
      .refine((v) => /^postgres(ql)?:\/\/./.test(v.trim()), { error: 'expected a URL like postgres://user:password@host:5432/opslab' })
      .optional(),
  })
  .superRefine((s, ctx) => {
    if (s.kind === 'postgres' && s.url === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['kind'],
        message: 'store.kind is postgres but no database URL is set: set OPSLAB_DATABASE_URL (postgres://user:password@host:5432/opslab)',
        params: { paths: ['store.kind', 'store.url'] },
      });
    }
  })
  .transform((s): { kind: (typeof STORE_KINDS)[number]; url?: string } =>
    s.url !== undefined && s.kind !== 'sqlite' ? { kind: 'postgres', url: s.url.trim() } : { kind: s.kind ?? 'sqlite' },
  );

const DAY_SECONDS = 86_400;
const DAY_MINUTES = 1_440;

const RawConfigSchema = z
  .strictObject({
    server: z
      .strictObject({
        host: nonEmpty('a host name or address').default('0.0.0.0'),
        port: intIn(1, 65_535).default(8080),
        publicUrl: publicUrlSchema.optional(),
        allowedOrigins: z.array(originSchema, { error: 'expected a list of origins' }).default([]),
      })
      .prefault({}),
    dataDir: nonEmpty('a directory path').default('./data'),
    labsDir: nonEmpty('a directory path').default('./labs'),
    store: storeSchema.prefault({}),
    logLevel: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
    adminToken: z
      .string({ error: 'expected a string' })
      .min(24, { error: 'must be at least 24 characters' })
      .regex(/^[\x21-\x7e]+$/, { error: 'must be printable ASCII without spaces' })
      .optional(),
    driver: z
      .strictObject({
        kind: z.enum(DRIVER_KINDS, { error: `expected one of ${DRIVER_KINDS.join(', ')}` }).default('docker'),
        allowUnisolated: bool().default(false),
        dockerSocket: nonEmpty('a socket path or URL').optional(),
        baseImage: nonEmpty('an image reference').default('opslab/base:bookworm'),
        // Each session's network gets a /28 from here. The engine's own default pools
        // hold only about 30 networks; this one holds 4096 and sits outside them.
        subnetPool: z
          .string({ error: 'expected an IPv4 CIDR' })
          .regex(/^(\d{1,3}\.){3}\d{1,3}\/(8|9|1\d|2[0-4])$/, { error: 'expected an IPv4 CIDR from /8 to /24, like 172.16.0.0/16' })
          .default('172.16.0.0/16'),
        // How often the Docker driver checks that its firewall rules are still there.
        networkGuardCheckSeconds: intIn(1, 3_600).default(10),
        // driver.kind kubernetes: where and how sandbox Pods run.
        kubernetes: z
          .strictObject({
            namespace: dnsLabel('a namespace name').default('opslab-sandboxes'),
            // A kubeconfig file (KUBECONFIG also sets it); without one, the in-cluster config.
            kubeconfig: nonEmpty('a file path').optional(),
            // gVisor, Kata, ...: a RuntimeClass the cluster has; its default runtime when unset.
            runtimeClassName: z
              .string({ error: 'expected a RuntimeClass name' })
              .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { error: 'expected a RuntimeClass name (lowercase DNS subdomain)' })
              .optional(),
            imagePullPolicy: z.enum(IMAGE_PULL_POLICIES, { error: `expected one of ${IMAGE_PULL_POLICIES.join(', ')}` }).default('IfNotPresent'),
            // Besides private, CGNAT and link-local ranges, where `egress` sandboxes may not go
            // (nodes or services on public addresses).
            egressBlockedCidrs: z
              .array(
                z.string({ error: 'expected an IPv4 CIDR' }).regex(/^(\d{1,3}\.){3}\d{1,3}\/([0-9]|[12]\d|3[0-2])$/, { error: 'expected an IPv4 CIDR like 203.0.113.0/24' }),
                { error: 'expected a list of IPv4 CIDRs' },
              )
              .default([]),
          })
          .prefault({}),
      })
      .prefault({}),
    sessions: z
      .strictObject({
        defaultDurationMinutes: intIn(1, DAY_MINUTES).default(60),
        maxDurationMinutes: intIn(1, DAY_MINUTES).default(240),
        readyTimeoutSeconds: intIn(1, DAY_SECONDS).default(120),
        reaperIntervalSeconds: intIn(1, DAY_SECONDS).default(30),
        ticketTtlSeconds: intIn(1, 3_600).default(30),
        expiryCheckSeconds: intIn(1, 3_600).default(5),
        // Sandboxes running at once; past it, POST /api/sessions answers 503 NO_CAPACITY.
        maxLive: intIn(1, 10_000).default(50),
        // Sessions one staff user may create per minute; past it, 429 RATE_LIMITED.
        createPerMinute: intIn(1, 10_000).default(20),
      })
      .prefault({}),
    sandbox: z
      .strictObject({
        cpus: numberIn(0.1, 64).default(1),
        memoryMb: intIn(64, 262_144).default(1024),
        pids: intIn(16, 65_536).default(256),
        // The workspace's file system (docker driver with disk limits: see GET /api/health).
        diskMb: intIn(64, 65_536).default(2048),
      })
      .prefault({}),
    terminal: z
      .strictObject({
        highWatermarkBytes: intIn(1024, 1 << 30).default(524_288),
        lowWatermarkBytes: intIn(0, 1 << 30).default(131_072),
        maxQueueBytes: intIn(1024, 1 << 30).default(8_388_608),
        // A session's recording past this keeps a picture of the screen every 2 s instead
        // of every byte (a candidate running `yes` would otherwise fill the disk).
        recordingMaxMb: intIn(1, 65_536).default(64),
      })
      .prefault({}),
    // Several replicas on one PostgreSQL: each live session's terminal is served by one
    // replica at a time (a lease it renews every heartbeat); the others forward to it.
    replicas: z
      .strictObject({
        // Stable across restarts (a restarted replica takes its own sessions back at
        // once): the pod name on Kubernetes; host name and port by default.
        id: z
          .string({ error: 'expected a replica id' })
          .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, { error: 'expected a replica id (letters, digits, . _ : -; at most 128)' })
          .optional(),
        // The base URL other replicas reach this one on (http://<pod IP>:8080).
        address: publicUrlSchema.optional(),
        // A replica that stops renewing (it died) loses its sessions after this long.
        leaseTtlMs: intIn(1_000, 600_000).default(10_000),
        heartbeatMs: intIn(200, 60_000).default(2_000),
      })
      .prefault({}),
    // Warm pools: per lab id, how many sandboxes wait ready (setup done) for the next
    // session of that lab. Each serves one candidate and is never reused.
    pools: z
      .record(z.string(), intIn(0, 100))
      .superRefine((pools, ctx) => {
        // Per key, so the error names the lab (zod's record keys only say "Invalid key").
        for (const id of Object.keys(pools)) {
          if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) {
            ctx.addIssue({ code: 'custom', path: [id], message: 'is not a lab id (lowercase letters, digits and dashes)', input: id, params: { aboutKey: true } });
          }
        }
      })
      .default({}),
  })
  .superRefine((c, ctx) => {
    // Runs only once every field is individually valid (zod skips refinements otherwise).
    // `params.paths` names every setting involved, so the error can cite their sources.
    const related = (paths: string[], message: string) =>
      ctx.addIssue({ code: 'custom', path: (paths[0] as string).split('.'), message, params: { paths } });
    const s = c.sessions;
    if (s.defaultDurationMinutes > s.maxDurationMinutes) {
      related(
        ['sessions.defaultDurationMinutes', 'sessions.maxDurationMinutes'],
        `sessions.defaultDurationMinutes (${s.defaultDurationMinutes}) must not exceed sessions.maxDurationMinutes (${s.maxDurationMinutes})`,
      );
    }
    if (c.replicas.heartbeatMs * 2 > c.replicas.leaseTtlMs) {
      related(
        ['replicas.heartbeatMs', 'replicas.leaseTtlMs'],
        `replicas.heartbeatMs (${c.replicas.heartbeatMs}) must be at most half of replicas.leaseTtlMs (${c.replicas.leaseTtlMs}), so one missed heartbeat does not lose a replica's sessions`,
      );
    }
    const t = c.terminal;
    if (t.lowWatermarkBytes >= t.highWatermarkBytes) {
      related(
        ['terminal.lowWatermarkBytes', 'terminal.highWatermarkBytes'],
        `terminal.lowWatermarkBytes (${t.lowWatermarkBytes}) must be below terminal.highWatermarkBytes (${t.highWatermarkBytes})`,
      );
    }
    if (t.highWatermarkBytes > t.maxQueueBytes) {
      related(
        ['terminal.highWatermarkBytes', 'terminal.maxQueueBytes'],
        `terminal.highWatermarkBytes (${t.highWatermarkBytes}) must not exceed terminal.maxQueueBytes (${t.maxQueueBytes})`,
      );
    }
  });

/** The one configuration schema (input: the nested file shape; output: `Config`). */
export const ConfigSchema = RawConfigSchema.transform((c) => {
  const publicUrl = c.server.publicUrl ?? `http://localhost:${c.server.port}`;
  // The server's own origin is always allowed to open terminals.
  const allowedOrigins = [...new Set([new URL(publicUrl).origin, ...c.server.allowedOrigins])];
  return { ...c, server: { ...c.server, publicUrl, allowedOrigins } };
});

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof RawConfigSchema>;

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
/** Values given explicitly (command-line flags); they win over the file and the environment. */
export type ConfigOverrides = DeepPartial<ConfigInput>;

// ---------------------------------------------------------------------------------
// Environment variables: the one table mapping names to paths in the schema.

type EnvKind = 'string' | 'int' | 'number' | 'bool' | 'list' | 'map';
interface EnvVar {
  name: string;
  path: string;
  kind: EnvKind;
  /** Never echo the value in errors. */
  secret?: boolean;
}

export const ENV_VARS: readonly EnvVar[] = [
  { name: 'OPSLAB_HOST', path: 'server.host', kind: 'string' },
  { name: 'OPSLAB_PORT', path: 'server.port', kind: 'int' },
  { name: 'OPSLAB_PUBLIC_URL', path: 'server.publicUrl', kind: 'string' },
  { name: 'OPSLAB_ALLOWED_ORIGINS', path: 'server.allowedOrigins', kind: 'list' },
  { name: 'OPSLAB_DATA_DIR', path: 'dataDir', kind: 'string' },
  { name: 'OPSLAB_LABS_DIR', path: 'labsDir', kind: 'string' },
  { name: 'OPSLAB_STORE', path: 'store.kind', kind: 'string' },
  // Holds the database password: never echoed.
  { name: 'OPSLAB_DATABASE_URL', path: 'store.url', kind: 'string', secret: true },
  { name: 'OPSLAB_LOG_LEVEL', path: 'logLevel', kind: 'string' },
  { name: 'OPSLAB_ADMIN_TOKEN', path: 'adminToken', kind: 'string', secret: true },
  { name: 'OPSLAB_DRIVER', path: 'driver.kind', kind: 'string' },
  { name: 'OPSLAB_ALLOW_UNISOLATED', path: 'driver.allowUnisolated', kind: 'bool' },
  { name: 'OPSLAB_DOCKER_SOCKET', path: 'driver.dockerSocket', kind: 'string' },
  { name: 'OPSLAB_BASE_IMAGE', path: 'driver.baseImage', kind: 'string' },
  { name: 'OPSLAB_DOCKER_SUBNET_POOL', path: 'driver.subnetPool', kind: 'string' },
  { name: 'OPSLAB_NETWORK_GUARD_CHECK_SECONDS', path: 'driver.networkGuardCheckSeconds', kind: 'int' },
  // kubectl's variable first, so that OPSLAB_K8S_KUBECONFIG (later in this table) wins over it.
  { name: 'KUBECONFIG', path: 'driver.kubernetes.kubeconfig', kind: 'string' },
  { name: 'OPSLAB_K8S_KUBECONFIG', path: 'driver.kubernetes.kubeconfig', kind: 'string' },
  { name: 'OPSLAB_K8S_NAMESPACE', path: 'driver.kubernetes.namespace', kind: 'string' },
  { name: 'OPSLAB_K8S_RUNTIME_CLASS', path: 'driver.kubernetes.runtimeClassName', kind: 'string' },
  { name: 'OPSLAB_K8S_IMAGE_PULL_POLICY', path: 'driver.kubernetes.imagePullPolicy', kind: 'string' },
  { name: 'OPSLAB_K8S_EGRESS_BLOCKED_CIDRS', path: 'driver.kubernetes.egressBlockedCidrs', kind: 'list' },
  { name: 'OPSLAB_SESSION_DEFAULT_MINUTES', path: 'sessions.defaultDurationMinutes', kind: 'int' },
  { name: 'OPSLAB_SESSION_MAX_MINUTES', path: 'sessions.maxDurationMinutes', kind: 'int' },
  { name: 'OPSLAB_READY_TIMEOUT_SECONDS', path: 'sessions.readyTimeoutSeconds', kind: 'int' },
  { name: 'OPSLAB_REAPER_INTERVAL_SECONDS', path: 'sessions.reaperIntervalSeconds', kind: 'int' },
  { name: 'OPSLAB_TICKET_TTL_SECONDS', path: 'sessions.ticketTtlSeconds', kind: 'int' },
  { name: 'OPSLAB_EXPIRY_CHECK_SECONDS', path: 'sessions.expiryCheckSeconds', kind: 'int' },
  { name: 'OPSLAB_SESSION_MAX_LIVE', path: 'sessions.maxLive', kind: 'int' },
  { name: 'OPSLAB_SESSION_CREATE_PER_MINUTE', path: 'sessions.createPerMinute', kind: 'int' },
  { name: 'OPSLAB_SANDBOX_CPUS', path: 'sandbox.cpus', kind: 'number' },
  { name: 'OPSLAB_SANDBOX_MEMORY_MB', path: 'sandbox.memoryMb', kind: 'int' },
  { name: 'OPSLAB_SANDBOX_PIDS', path: 'sandbox.pids', kind: 'int' },
  { name: 'OPSLAB_SANDBOX_DISK_MB', path: 'sandbox.diskMb', kind: 'int' },
  { name: 'OPSLAB_RECORDING_MAX_MB', path: 'terminal.recordingMaxMb', kind: 'int' },
  { name: 'OPSLAB_POOLS', path: 'pools', kind: 'map' },
  { name: 'OPSLAB_REPLICA_ID', path: 'replicas.id', kind: 'string' },
  { name: 'OPSLAB_REPLICA_ADDRESS', path: 'replicas.address', kind: 'string' },
  { name: 'OPSLAB_LEASE_TTL_MS', path: 'replicas.leaseTtlMs', kind: 'int' },
  { name: 'OPSLAB_HEARTBEAT_MS', path: 'replicas.heartbeatMs', kind: 'int' },
];

/** Names the config reads that are not settings in the table. */
const CONFIG_FILE_VAR = 'OPSLAB_CONFIG';
const SECRET_PATHS = new Set(ENV_VARS.filter((v) => v.secret).map((v) => v.path));
const PATH_SETTINGS = new Set(['dataDir', 'labsDir']);

/** Turns an env string into the schema's type; leaves it a string when it does not fit, so the schema reports it. */
function coerceEnv(kind: EnvKind, raw: string): unknown {
  const t = raw.trim();
  switch (kind) {
    case 'string':
      return raw;
    case 'int':
      return /^[+-]?\d+$/.test(t) ? Number(t) : raw;
    case 'number':
      return t !== '' && Number.isFinite(Number(t)) ? Number(t) : raw;
    case 'bool': {
      const l = t.toLowerCase();
      if (l === 'true' || l === '1') return true;
      if (l === 'false' || l === '0') return false;
      return raw;
    }
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    case 'map': {
      // `hello=3,mlflow-tracking=1`: values that are not integers stay strings for the schema to name.
      const entries = raw.split(',').map((s) => s.trim()).filter((s) => s !== '').map((pair) => {
        const eq = pair.indexOf('=');
        const key = eq < 0 ? pair : pair.slice(0, eq).trim();
        const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
        return [key, /^\d+$/.test(value) ? Number(value) : value] as const;
      });
      return Object.fromEntries(entries);
    }
  }
}

// ---------------------------------------------------------------------------------
// Loading

export interface LoadConfigOptions {
  /** Defaults to `process.env` (read at call time). */
  env?: Record<string, string | undefined>;
  /** Explicit values (command-line flags); win over env and file. */
  overrides?: ConfigOverrides;
  /** A config file path; wins over `OPSLAB_CONFIG`. */
  configFile?: string;
  /** Base for relative paths from env and defaults. Defaults to `process.cwd()`. */
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** Non-fatal findings, e.g. unknown OPSLAB_* variables (typos are common). */
  warnings: string[];
  /** The config file that was read, absolute. */
  configFile?: string;
}

interface Source {
  /** e.g. `OPSLAB_PORT`, `opslab.yaml: server.port`, `override server.port` */
  label: string;
  /** The text as given (env values), shown instead of the coerced value. */
  raw?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Sets a nested value. Refuses (false) when a parent is a non-mapping given by the file
 * (`sessions: 5`), so the schema reports that instead of it being silently replaced.
 */
function setPath(target: Obj, dotted: string, value: unknown): boolean {
  const keys = dotted.split('.');
  let o = target;
  for (const k of keys.slice(0, -1)) {
    if (o[k] === undefined) o[k] = {};
    if (!isObj(o[k])) return false;
    o = o[k];
  }
  o[keys[keys.length - 1] as string] = value;
  return true;
}

function getPath(target: unknown, keys: readonly PropertyKey[]): unknown {
  let o = target;
  for (const k of keys) {
    if (typeof o !== 'object' || o === null) return undefined;
    o = (o as Record<PropertyKey, unknown>)[k];
  }
  return o;
}

/** Every node of `value` as [dotted path, value], mappings included; arrays count as values. */
function leaves(value: Obj, prefix = ''): Array<[string, unknown]> {
  return Object.entries(value).flatMap(([k, v]): Array<[string, unknown]> => {
    const p = prefix ? `${prefix}.${k}` : k;
    return isObj(v) ? [[p, v] as [string, unknown], ...leaves(v, p)] : [[p, v]];
  });
}

function readConfigFile(file: string, label: string): Obj {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n  - ${label}: cannot read ${file}: ${describeError(e)}`, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : yaml.load(text, { filename: file });
  } catch (e) {
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n  - ${label}: cannot parse ${file}: ${describeError(e)}`, { cause: e });
  }
  if (parsed === undefined || parsed === null) return {};
  if (!isObj(parsed)) {
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n  - ${label}: ${file} must hold a mapping of settings`);
  }
  return parsed;
}

/** Edit distance, for "did you mean" on unknown variables. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const inner of Object.values(v)) deepFreeze(inner);
    Object.freeze(v);
  }
  return v;
}

export interface ConfigProblem {
  source: string;
  path: string;
  message: string;
}

/**
 * Reads and validates the configuration. Throws `AppError('CONFIG_INVALID')` listing
 * every problem with its source, e.g. `OPSLAB_PORT: expected an integer 1..65535, got "abc"`.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const merged: Obj = {};
  const sources = new Map<string, Source>();
  const warnings: string[] = [];

  // 1. The file.
  const fileLabel = options.configFile !== undefined ? '--config' : CONFIG_FILE_VAR;
  const fileArg = options.configFile ?? nonEmptyEnv(env[CONFIG_FILE_VAR]);
  const configFile = fileArg === undefined ? undefined : path.resolve(cwd, fileArg);
  if (configFile !== undefined && fileArg !== undefined) {
    const fromFile = readConfigFile(configFile, fileLabel);
    for (const [p, v] of leaves(fromFile)) {
      // Relative paths in a file are relative to the file, wherever the server starts.
      const value = PATH_SETTINGS.has(p) && typeof v === 'string' ? path.resolve(path.dirname(configFile), v) : v;
      if (!isObj(v)) setPath(merged, p, value);
      sources.set(p, { label: `${fileArg}: ${p}` });
    }
  }

  // 2. Environment variables.
  const known = new Set([CONFIG_FILE_VAR, ...ENV_VARS.map((v) => v.name)]);
  for (const v of ENV_VARS) {
    const raw = nonEmptyEnv(env[v.name]);
    if (raw === undefined) continue;
    if (setPath(merged, v.path, coerceEnv(v.kind, raw))) sources.set(v.path, { label: v.name, raw });
  }
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('OPSLAB_') || known.has(name)) continue;
    const near = [...known].map((k) => [k, distance(name, k)] as const).sort((a, b) => a[1] - b[1])[0];
    const hint = near !== undefined && near[1] <= 3 ? ` (did you mean ${near[0]}?)` : '';
    warnings.push(`${name} is not a known setting and is ignored${hint}`);
  }

  // 3. Explicit overrides.
  if (options.overrides) {
    for (const [p, v] of leaves(options.overrides as Obj)) {
      if (v === undefined || isObj(v)) continue;
      if (setPath(merged, p, v)) sources.set(p, { label: `override ${p}` });
    }
  }

  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.flatMap((issue) => describeIssue(issue, merged, sources));
    const list = problems.map((p) => `  - ${p.source}: ${p.message}`).join('\n');
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n${list}`, { details: { problems } });
  }

  const config = result.data;
  config.dataDir = path.resolve(cwd, config.dataDir);
  config.labsDir = path.resolve(cwd, config.labsDir);
  return { config: deepFreeze(config), warnings, ...(configFile !== undefined ? { configFile } : {}) };
}

function nonEmptyEnv(v: string | undefined): string | undefined {
  // An empty variable (`OPSLAB_X=` in compose files) means "not set".
  return v === undefined || v === '' ? undefined : v;
}

function sourceFor(keys: readonly PropertyKey[], sources: Map<string, Source>): { source: Source | undefined; exact: boolean } {
  const parts = keys.map(String);
  for (let n = parts.length; n > 0; n--) {
    const s = sources.get(parts.slice(0, n).join('.'));
    if (s) return { source: s, exact: n === parts.length };
  }
  return { source: undefined, exact: false };
}

function describeIssue(issue: z.core.$ZodIssue, merged: Obj, sources: Map<string, Source>): ConfigProblem[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const keys = [...issue.path, key];
      const p = keys.map(String).join('.');
      return { source: sourceFor(keys, sources).source?.label ?? p, path: p, message: 'unknown setting' };
    });
  }
  const p = issue.path.map(String).join('.');
  if (issue.code === 'custom' && Array.isArray(issue.params?.['paths'])) {
    // A rule between settings: cite each one's source (or "default").
    const paths = issue.params['paths'] as string[];
    const label = paths.map((q) => sources.get(q)?.label ?? `${q} (default)`).join(' / ');
    return [{ source: label, path: p, message: issue.message }];
  }
  const { source, exact } = sourceFor(issue.path, sources);
  const label = source === undefined ? `${p} (default)` : exact || !source.label.startsWith('OPSLAB_') ? source.label : `${source.label}[${p.split('.').pop()}]`;
  const value = getPath(merged, issue.path);
  let got = '';
  if (issue.code === 'custom' && issue.params?.['aboutKey'] === true) got = ''; // the key is the problem; the label names it
  else if (SECRET_PATHS.has(p)) got = typeof value === 'string' ? `, got ${value.length} characters` : '';
  else if (exact && source?.raw !== undefined) got = `, got ${JSON.stringify(source.raw)}`;
  else if (value !== undefined) got = `, got ${JSON.stringify(value)}`;
  return [{ source: label, path: p, message: `${issue.message}${got}` }];
}
