/**
 * Route tables for comparing the express app with docs/openapi.yaml: the app's routes
 * (through the router's `listRoutes()`, recursing into mounted routers), the spec's
 * operations, and the differences between the two.
 */
import type express from 'express';

export interface RouteKey {
  /** Upper case, e.g. `GET`; `ALL` for `.all()` handlers (which no spec documents). */
  method: string;
  /** OpenAPI style: `/api/sessions/{id}`. */
  path: string;
}

export interface SpecOperation extends RouteKey {
  planned: boolean;
  /** `x-opslab-transport: websocket`: served by the upgrade handler, not by express. */
  websocket: boolean;
  operation: Record<string, unknown>;
  pathItem: Record<string, unknown>;
}

/** What `Router#listRoutes()` (router ≥ 2.3) returns for one layer. */
interface ListedRoute {
  path: unknown;
  methods?: string[];
  router?: unknown;
}
interface Listable {
  listRoutes(): ListedRoute[];
}

function isListable(r: unknown): r is Listable {
  return (typeof r === 'function' || (typeof r === 'object' && r !== null)) && typeof (r as { listRoutes?: unknown }).listRoutes === 'function';
}

/** Express `:name` parameters → OpenAPI `{name}`. */
export function toOpenApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function join(prefix: string, path: string): string {
  const joined = `${prefix.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  return joined.length > 1 ? joined.replace(/\/+$/, '') : joined;
}

function walk(router: Listable, prefix: string, out: RouteKey[]): void {
  for (const entry of router.listRoutes()) {
    if (typeof entry.path !== 'string') {
      throw new Error(`a route or mount path under "${prefix || '/'}" is not a string (${String(entry.path)}); describe it in the spec and teach this helper`);
    }
    const path = join(prefix, entry.path);
    if (entry.router !== undefined) {
      if (!isListable(entry.router)) throw new Error(`the router mounted at ${path} cannot list its routes`);
      walk(entry.router, path, out);
      continue;
    }
    const methods = (entry.methods ?? []).map((m) => (m === '*' ? 'ALL' : m.toUpperCase()));
    for (const method of methods) {
      // Express answers HEAD for every GET route by itself; only a HEAD on its own counts.
      if (method === 'HEAD' && methods.includes('GET')) continue;
      out.push({ method, path: toOpenApiPath(path) });
    }
  }
}

/** Every route the app serves, mounted routers included, sorted. */
export function appRoutes(app: express.Express): RouteKey[] {
  const router: unknown = app.router;
  if (!isListable(router)) throw new Error('the express router has no listRoutes() (needs router >= 2.3, which express 5 installs)');
  const out: RouteKey[] = [];
  walk(router, '', out);
  return sortRoutes(dedupe(out));
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Every operation in an OpenAPI document. */
export function specOperations(doc: { paths?: Record<string, unknown> }): SpecOperation[] {
  const out: SpecOperation[] = [];
  for (const [path, rawItem] of Object.entries(doc.paths ?? {})) {
    const pathItem = (rawItem ?? {}) as Record<string, unknown>;
    for (const method of HTTP_METHODS) {
      const operation = pathItem[method] as Record<string, unknown> | undefined;
      if (!operation) continue;
      out.push({
        method: method.toUpperCase(),
        path,
        planned: operation['x-opslab-status'] === 'planned' || pathItem['x-opslab-status'] === 'planned',
        websocket: operation['x-opslab-transport'] === 'websocket',
        operation,
        pathItem,
      });
    }
  }
  return out;
}

export const routeLabel = (r: RouteKey): string => `${r.method} ${r.path}`;

function dedupe(routes: RouteKey[]): RouteKey[] {
  const seen = new Map(routes.map((r) => [routeLabel(r), r]));
  return [...seen.values()];
}

function sortRoutes(routes: RouteKey[]): RouteKey[] {
  return [...routes].sort((a, b) => routeLabel(a).localeCompare(routeLabel(b)));
}

export interface RouteDiff {
  /** Served by the app, absent from the spec. */
  undocumented: string[];
  /** In the spec as implemented, not served by the app. */
  missing: string[];
  /** Served by the app but still marked `x-opslab-status: planned`. */
  plannedButServed: string[];
}

/** Compares the app's routes with the spec's plain HTTP operations (WebSocket ones are checked apart). */
export function diffRoutes(app: readonly RouteKey[], spec: readonly SpecOperation[]): RouteDiff {
  const served = new Set(app.map(routeLabel));
  const documented = new Set(spec.map(routeLabel));
  const http = spec.filter((o) => !o.websocket);
  return {
    undocumented: app.map(routeLabel).filter((r) => !documented.has(r)),
    missing: http.filter((o) => !o.planned && !served.has(routeLabel(o))).map(routeLabel),
    plannedButServed: spec.filter((o) => o.planned && served.has(routeLabel(o))).map(routeLabel),
  };
}
