/**
 * The composition root: config → store → driver → services → HTTP. Nothing else builds
 * long-lived objects or reads the environment.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { ensureAdmin } from './auth/bootstrap.js';
import { Authenticator } from './auth/principal.js';
import { TerminalTickets } from './auth/tickets.js';
import type { Config } from './config.js';
import { AppError } from './errors.js';
import { createApp } from './http/app.js';
import { terminalUpgradeHandler } from './http/ws.js';
import { LabCatalog } from './labs/catalog.js';
import { createDriver } from './sandbox/factory.js';
import { SessionService } from './sessions/service.js';
import { isLive } from './sessions/state.js';
import { LeaseKeeper } from './replicas/lease-keeper.js';
import { openStore } from './store/store.js';
import { VERSION } from './version.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { pid: process.pid } });
}

/** Same-host spellings of a default localhost public URL, so 127.0.0.1 works too. */
function allowedOrigins(config: Config): Set<string> {
  const origins = new Set(config.server.allowedOrigins);
  const pub = new URL(config.server.publicUrl);
  if (pub.hostname === 'localhost') origins.add(`${pub.protocol}//127.0.0.1${pub.port ? `:${pub.port}` : ''}`);
  return origins;
}

/**
 * Who this replica is to the others: an id stable across its restarts (host name and
 * port unless configured; the pod name on Kubernetes) and the address they forward to.
 */
export function replicaIdentity(config: Config): { id: string; address: string } {
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  return {
    id: config.replicas.id ?? `${os.hostname()}:${config.server.port}`,
    address: config.replicas.address ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}`,
  };
}

export async function startServer(config: Config, logger: Logger = createLogger(config)): Promise<RunningServer> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  fs.mkdirSync(path.join(config.dataDir, 'recordings'), { recursive: true });
  const store = await openStore(config, { onIdleError: (err) => logger.warn({ err }, 'an idle database connection failed; it is replaced on demand') });
  logger.info({ store: store.kind }, `store: ${store.kind === 'postgres' ? 'PostgreSQL' : path.join(config.dataDir, 'opslab.db')}`);
  await ensureAdmin({ store, dataDir: config.dataDir, adminToken: config.adminToken, logger });

  const labs = LabCatalog.load(config.labsDir);
  for (const broken of labs.invalid) {
    logger.error({ lab: broken.id, problems: broken.problems }, `lab ${broken.id} is invalid and was not loaded:\n  ${broken.problems.join('\n  ')}`);
  }
  logger.info({ labs: labs.list().map((l) => l.id) }, `loaded ${labs.list().length} lab(s)`);

  const driver = await createDriver(config, { ownerId: await store.meta.installationId(), logger });
  const replica = replicaIdentity(config);
  // The keeper and the service call each other: the hooks reach the service once built.
  // eslint-disable-next-line prefer-const -- assigned once, just below
  let sessions: SessionService;
  const leases = new LeaseKeeper({
    leases: store.leases,
    replicaId: replica.id,
    address: replica.address,
    ttlMs: config.replicas.leaseTtlMs,
    renewEveryMs: config.replicas.heartbeatMs,
    logger,
    hooks: {
      liveSessionIds: async () => (await store.sessions.listLive()).map((s) => s.id),
      isLive: async (id) => isLive((await store.sessions.get(id))?.state ?? 'ended'),
      adopt: (id) => sessions.adopt(id),
      relinquish: (id) => sessions.relinquish(id),
    },
  });
  sessions = new SessionService({ config, store, driver, labs, logger, leases });
  logger.info({ replica: replica.id, address: replica.address }, `replica ${replica.id}`);
  // Takes back this replica's sessions (after a restart) and any no live replica holds.
  await leases.tick();
  leases.start();
  await sessions.reap().catch((err: unknown) => logger.warn({ err }, 'initial reap failed'));
  sessions.startBackgroundWork();
  const replicas = { replicaId: replica.id, remoteHolder: (id: string) => leases.remoteHolder(id) };

  const tickets = new TerminalTickets({
    store,
    ttlSeconds: config.sessions.ticketTtlSeconds,
  });
  const app = createApp({
    config,
    logger,
    version: VERSION,
    driverKind: driver.kind,
    auth: new Authenticator({ users: store.users, sessions: store.sessions }),
    labs,
    sessions,
    tickets,
    store,
    driver,
    replicas,
  });
  const server = http.createServer(app);
  server.on('upgrade', terminalUpgradeHandler({ allowedOrigins: allowedOrigins(config), tickets, sessions, logger, replicas }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new AppError('CONFIG_INVALID', `cannot listen on ${config.server.host}:${config.server.port}: ${e.code ?? e.message}`)),
    );
    server.listen(config.server.port, config.server.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const url = `http://${config.server.host === '0.0.0.0' ? 'localhost' : config.server.host}:${port}`;
  logger.info({ url, driver: driver.kind, dataDir: config.dataDir }, `opslab is listening on ${url}`);

  return {
    url,
    async close() {
      server.close();
      server.closeAllConnections();
      await sessions.shutdown();
      // Handed back, so another replica takes the sessions over at once.
      await leases.stop().catch((err: unknown) => logger.warn({ err }, 'releasing the terminal leases'));
      await store.close();
    },
  };
}
