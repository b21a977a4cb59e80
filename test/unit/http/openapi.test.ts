/**
 * docs/openapi.yaml must stay true: every route the app serves is documented, every
 * documented route (not marked `x-opslab-status: planned`) is served, the terminal
 * WebSocket path is the one the upgrade handler accepts, and the error codes are the
 * server's. Builds the app with inert stub dependencies: no server, no store, no Docker.
 */
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { TerminalTickets } from '../../../server/auth/tickets.js';
import { AppError, ERROR_STATUS } from '../../../server/errors.js';
import { createApp, type HttpDeps } from '../../../server/http/app.js';
import { terminalUpgradeHandler } from '../../../server/http/ws.js';
import type { SessionService } from '../../../server/sessions/service.js';
import { SESSION_STATES } from '../../../server/store/sessions-repo.js';
import { appRoutes, diffRoutes, routeLabel, specOperations, type SpecOperation } from './route-table.js';

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: {
    schemas: Record<string, { enum?: string[]; [k: string]: unknown }>;
    parameters: Record<string, { schema?: { pattern?: string } }>;
    securitySchemes: Record<string, unknown>;
  };
  'x-opslab-error-codes': Record<string, number>;
}

const SPEC_FILE = new URL('../../../docs/openapi.yaml', import.meta.url);
const spec = parse(fs.readFileSync(SPEC_FILE, 'utf8')) as OpenApiDoc;
const operations = specOperations(spec);

const silent = pino({ level: 'silent' });

/**
 * The app as main.ts builds it, with stubs. Route construction reads only
 * `config.sessions.maxDurationMinutes` (the zod schema of POST /api/sessions); every
 * other dependency is used inside handlers, which these tests never call.
 */
function buildApp(): express.Express {
  const deps = {
    config: { sessions: { maxDurationMinutes: 240 } },
    logger: silent,
    version: '0.0.0-test',
    driverKind: 'local',
    auth: { authenticate: () => null },
    labs: {},
    sessions: {},
    tickets: {},
  } as unknown as HttpDeps;
  return createApp(deps);
}

/** Every `$ref` in the document, with where it was found. */
function refs(node: unknown, at = '#', out: { ref: string; at: string }[] = []): { ref: string; at: string }[] {
  if (Array.isArray(node)) node.forEach((v, i) => refs(v, `${at}/${i}`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push({ ref: v, at });
      else refs(v, `${at}/${k}`, out);
    }
  }
  return out;
}

function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!node || typeof node !== 'object' || !(key in node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

describe('docs/openapi.yaml', () => {
  it('is an OpenAPI 3.1 document whose $refs all resolve and whose operation ids are unique', () => {
    expect(spec.openapi).toMatch(/^3\.1\.\d+$/);
    const dangling = refs(spec).filter((r) => resolvePointer(spec, r.ref) === undefined);
    expect(dangling).toEqual([]);
    const ids = operations.map((o) => o.operation.operationId);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents every route the app serves, and the app serves every documented route', () => {
    const diff = diffRoutes(appRoutes(buildApp()), operations);
    expect(diff.undocumented, 'routes served by the app but missing from docs/openapi.yaml').toEqual([]);
    expect(diff.missing, 'operations in docs/openapi.yaml that the app does not serve (mark them x-opslab-status: planned?)').toEqual([]);
    expect(diff.plannedButServed, 'implemented routes still marked x-opslab-status: planned').toEqual([]);
  });

  it('sees the core routes (guards against an empty route table passing vacuously)', () => {
    const served = appRoutes(buildApp()).map(routeLabel);
    expect(served).toEqual(
      expect.arrayContaining([
        'GET /api/health',
        'POST /api/sessions',
        'GET /api/sessions/{id}',
        'GET /api/sessions/{id}/events',
        'POST /api/auth/login',
        'PUT /api/sessions/{id}/notes',
        'GET /api/sessions/{id}/commits',
      ]),
    );
  });

  it('fails for an undocumented route, also one nested in mounted routers, and for a route the app lost', () => {
    const app = buildApp();
    const inner = express.Router();
    inner.delete('/:id/secret', (_req, res) => void res.end());
    const outer = express.Router();
    outer.use('/sessions', inner);
    outer.put('/labs/:id', (_req, res) => void res.end());
    app.use('/api', outer);
    app.get('/api/extra', (_req, res) => void res.end());
    expect(diffRoutes(appRoutes(app), operations).undocumented.sort()).toEqual([
      'DELETE /api/sessions/{id}/secret',
      'GET /api/extra',
      'PUT /api/labs/{id}',
    ]);

    const withoutEnd = operations.filter((o) => o.path !== '/api/sessions/{id}/end');
    expect(diffRoutes(appRoutes(buildApp()), withoutEnd).undocumented).toEqual(['POST /api/sessions/{id}/end']);

    const withGhost: SpecOperation[] = [
      ...operations,
      { method: 'GET', path: '/api/ghost', planned: false, websocket: false, operation: {}, pathItem: {} },
    ];
    expect(diffRoutes(appRoutes(buildApp()), withGhost).missing).toEqual(['GET /api/ghost']);
  });

  it('marks the planned endpoints of API.md as planned, without inventing their answers', () => {
    const planned = operations.filter((o) => o.planned).map(routeLabel).sort();
    // Every endpoint of API.md is implemented today (the last, POST /api/auth/login, with the web API).
    expect(planned).toEqual([]);
    for (const o of operations.filter((op) => op.planned)) {
      const codes = Object.keys((o.operation.responses ?? {}) as object);
      // Today they are unknown paths: the only true answer is 404 NOT_FOUND.
      expect(codes, routeLabel(o)).toEqual(['404']);
      expect(o.operation.requestBody, routeLabel(o)).toBeUndefined();
    }
  });

  it('says who may call every implemented operation and what it answers on success', () => {
    for (const o of operations.filter((op) => !op.planned)) {
      const roles = o.operation['x-opslab-roles'];
      expect(Array.isArray(roles) && roles.length > 0, `${routeLabel(o)} x-opslab-roles`).toBe(true);
      const codes = Object.keys((o.operation.responses ?? {}) as object);
      expect(codes.some((c) => /^(2\d\d|101)$/.test(c)), `${routeLabel(o)} success response`).toBe(true);
    }
  });

  it('lists exactly the server error codes, with their HTTP statuses', () => {
    expect([...(spec.components.schemas.ErrorCode?.enum ?? [])].sort()).toEqual(Object.keys(ERROR_STATUS).sort());
    expect(spec['x-opslab-error-codes']).toEqual(ERROR_STATUS);
  });

  it('lists exactly the server session states', () => {
    expect(spec.components.schemas.SessionState?.enum).toEqual([...SESSION_STATES]);
  });
});

describe('the terminal WebSocket in docs/openapi.yaml', () => {
  const wsOps = operations.filter((o) => o.websocket);

  /** Runs the real upgrade handler on `url` and returns the status it refused with and the session id it read. */
  async function upgrade(url: string): Promise<{ status: number; code: string; sessionId?: string }> {
    let sessionId: string | undefined;
    const tickets = {
      redeem: (_ticket: string, id: string) => {
        sessionId = id;
        throw new AppError('TICKET_INVALID', 'stub: every ticket is invalid');
      },
    } as unknown as TerminalTickets;
    const handler = terminalUpgradeHandler({
      allowedOrigins: new Set(),
      tickets,
      // No such session: the handler goes on to the ticket, which decides the answer.
      sessions: { get: () => undefined, hub: () => undefined } as unknown as SessionService,
      logger: silent,
    });
    let answered!: (data: string) => void;
    const ended = new Promise<string>((resolve) => { answered = resolve; });
    const socket = {
      on: () => socket,
      end: (data: string) => answered(data),
      destroy: () => undefined,
    };
    handler({ url, headers: {} } as IncomingMessage, socket as unknown as Duplex, Buffer.alloc(0));
    // The handler looks the session up asynchronously; it answers within a few ticks.
    const written = await Promise.race([ended, new Promise<string>((resolve) => setTimeout(() => resolve(''), 2_000))]);
    const m = /^HTTP\/1\.1 (\d{3}) (\S+)/.exec(written);
    if (!m) throw new Error(`the upgrade handler answered nothing recognisable: ${JSON.stringify(written)}`);
    return { status: Number(m[1]), code: m[2] ?? '', sessionId };
  }

  const sessionIdPattern = new RegExp(spec.components.parameters.SessionId?.schema?.pattern ?? '^$');
  const exampleId = '0123456789abcdef0123';

  it('has exactly one WebSocket operation: GET with a required ticket, answering 101', () => {
    expect(wsOps.map(routeLabel)).toEqual(['GET /api/sessions/{id}/terminal']);
    const op = wsOps[0]!;
    const params = (op.operation.parameters ?? []) as { name: string; in: string; required?: boolean }[];
    expect(params).toContainEqual(expect.objectContaining({ name: 'ticket', in: 'query', required: true }));
    expect(Object.keys(op.operation.responses as object)).toContain('101');
    expect(op.operation.security).toEqual([{ terminalTicket: [] }]);
  });

  it('is not an express route: only the upgrade handler serves it', () => {
    const served = new Set(appRoutes(buildApp()).map(routeLabel));
    for (const o of wsOps) expect(served.has(routeLabel(o)), routeLabel(o)).toBe(false);
  });

  it('matches the path the upgrade handler accepts (ws.ts), taking the session id from {id}', async () => {
    expect(exampleId).toMatch(sessionIdPattern);
    for (const o of wsOps) {
      const url = `${o.path.replace('{id}', exampleId)}?ticket=osl_t_stub`;
      // Getting as far as redeeming the ticket means the path, the id and the origin passed.
      expect(await upgrade(url)).toEqual({ status: 401, code: 'TICKET_INVALID', sessionId: exampleId });
      // Without a ticket the handler still recognises the path and asks for one.
      expect(await upgrade(o.path.replace('{id}', exampleId))).toMatchObject({ status: 401, code: 'TICKET_INVALID', sessionId: undefined });
    }
  });

  it('is the only path the upgrade handler accepts (others are refused 404)', async () => {
    for (const url of [
      `/api/sessions/${exampleId}/terminals?ticket=x`,
      `/api/sessions/${exampleId}/terminal/extra?ticket=x`,
      `/api/sessions/${exampleId}?ticket=x`,
      '/api/health?ticket=x',
      `/api/sessions/not-a-session-id/terminal?ticket=x`,
    ]) {
      expect(await upgrade(url), url).toMatchObject({ status: 404, code: 'NOT_FOUND', sessionId: undefined });
    }
  });
});
