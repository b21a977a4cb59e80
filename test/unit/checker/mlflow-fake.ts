/**
 * A fake MLflow tracking server with the REST shapes of the real one (proto JSON: empty
 * lists and unset fields are left out; errors are `{error_code, message}`; a route an
 * MLflow 2 server lacks answers 404 with HTML). Only the endpoints the check uses.
 */
import type http from 'node:http';
import type { TestServer } from './http-fakes.js';
import { json, startServer } from './http-fakes.js';

export interface FakeRun {
  id: string;
  name?: string;
  experimentId: string;
  status?: 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
  lifecycleStage?: 'active' | 'deleted';
  params?: Record<string, string>;
  metrics?: Record<string, number | string>;
  tags?: Record<string, string>;
  /** Files under the run's artifact root (MLflow 2 models live here): `model/MLmodel`. */
  artifacts?: string[];
  /** MLflow 3: `outputs.model_outputs`. */
  modelOutputs?: string[];
}

export interface FakeLoggedModel {
  id: string;
  name: string;
  experimentId: string;
  sourceRunId?: string;
  status?: string;
  files: string[];
}

export interface FakeVersion {
  name: string;
  version: string;
  runId?: string;
  modelId?: string;
  status?: 'READY' | 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION';
}

export interface FakeMlflowState {
  experiments: Array<{ id: string; name: string; lifecycleStage?: 'active' | 'deleted' }>;
  runs: FakeRun[];
  /** `undefined`: an MLflow 2 server (the logged-models routes answer 404 HTML). */
  loggedModels?: FakeLoggedModel[];
  registeredModels: string[];
  versions: FakeVersion[];
  /** The server's own page size limit for runs/search and model-versions/search. */
  pageSize?: number;
  /** Replace the answer of a route (`POST runs/search`) for hostile-answer tests. */
  override?: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>;
}

const notFound = (res: http.ServerResponse, message: string) => json(res, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message });
const kv = (o: Record<string, string | number> | undefined) => Object.entries(o ?? {}).map(([key, value]) => ({ key, value }));

function runJson(r: FakeRun): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  if (r.params && Object.keys(r.params).length) data.params = kv(r.params);
  if (r.metrics && Object.keys(r.metrics).length) {
    data.metrics = Object.entries(r.metrics).map(([key, value]) => ({ key, value, timestamp: 1764000000000, step: 0 }));
  }
  const tags = { 'mlflow.runName': r.name ?? r.id, 'mlflow.user': 'candidate', ...r.tags };
  data.tags = kv(tags);
  const out: Record<string, unknown> = {
    info: {
      run_id: r.id,
      run_uuid: r.id,
      run_name: r.name ?? r.id,
      experiment_id: r.experimentId,
      user_id: 'candidate',
      status: r.status ?? 'FINISHED',
      start_time: 1764000000000,
      end_time: 1764000005000,
      artifact_uri: `mlflow-artifacts:/${r.experimentId}/${r.id}/artifacts`,
      lifecycle_stage: r.lifecycleStage ?? 'active',
    },
    data,
    inputs: {},
  };
  if (r.modelOutputs?.length) out.outputs = { model_outputs: r.modelOutputs.map((model_id) => ({ model_id, step: 0 })) };
  return out;
}

/** Direct children of `dir` among `files` (paths relative to the root), as artifacts/list gives them. */
function listDir(files: string[], dir: string): Array<{ path: string; is_dir: boolean; file_size?: number }> {
  const prefix = dir ? `${dir.replace(/\/+$/, '')}/` : '';
  const seen = new Map<string, boolean>();
  for (const f of files) {
    if (!f.startsWith(prefix)) continue;
    const rest = f.slice(prefix.length);
    const [head, ...tail] = rest.split('/');
    if (!head) continue;
    seen.set(`${prefix}${head}`, tail.length > 0 || (seen.get(`${prefix}${head}`) ?? false));
  }
  return [...seen].map(([path, isDir]) => (isDir ? { path, is_dir: true } : { path, is_dir: false, file_size: 120 }));
}

function page<T>(items: T[], token: string | undefined, max: number): { items: T[]; next?: string } {
  const start = token ? Number(token) : 0;
  const slice = items.slice(start, start + max);
  return start + max < items.length ? { items: slice, next: String(start + max) } : { items: slice };
}

export async function startFakeMlflow(state: FakeMlflowState): Promise<TestServer & { state: FakeMlflowState }> {
  const server = await startServer((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = url.pathname.replace(/^\/api\/2\.0\/mlflow\//, '');
    const key = `${req.method} ${route}`;
    const override = state.override?.[key];
    if (override) return override(req, res);
    const q = url.searchParams;
    const b = (req.method === 'POST' && body ? JSON.parse(body) : {}) as Record<string, unknown>;
    const pageSize = state.pageSize ?? 1000;

    if (key === 'GET experiments/get-by-name') {
      const e = state.experiments.find((x) => x.name === q.get('experiment_name') && x.lifecycleStage !== 'deleted') ??
        state.experiments.find((x) => x.name === q.get('experiment_name'));
      if (!e) return notFound(res, `Could not find experiment with name '${q.get('experiment_name')}'`);
      return json(res, 200, {
        experiment: { experiment_id: e.id, name: e.name, artifact_location: `mlflow-artifacts:/${e.id}`, lifecycle_stage: e.lifecycleStage ?? 'active' },
      });
    }
    if (key === 'GET experiments/search') {
      return json(res, 200, { experiments: state.experiments.map((e) => ({ experiment_id: e.id, name: e.name })) });
    }
    if (key === 'POST runs/search') {
      const ids = (b.experiment_ids as string[] | undefined) ?? [];
      const runs = state.runs.filter((r) => ids.includes(r.experimentId) && (r.lifecycleStage ?? 'active') === 'active');
      const p = page(runs, b.page_token as string | undefined, Math.min(Number(b.max_results ?? 1000), pageSize));
      const out: Record<string, unknown> = {};
      if (p.items.length) out.runs = p.items.map(runJson);
      if (p.next) out.next_page_token = p.next;
      return json(res, 200, out);
    }
    if (key === 'GET runs/get') {
      const r = state.runs.find((x) => x.id === q.get('run_id'));
      if (!r) return notFound(res, `Run '${q.get('run_id')}' not found`);
      return json(res, 200, { run: runJson(r) });
    }
    if (key === 'GET artifacts/list') {
      const r = state.runs.find((x) => x.id === q.get('run_id'));
      if (!r) return notFound(res, `Run '${q.get('run_id')}' not found`);
      const files = listDir(r.artifacts ?? [], q.get('path') ?? '');
      return json(res, 200, { root_uri: `mlflow-artifacts:/${r.experimentId}/${r.id}/artifacts`, ...(files.length ? { files } : {}) });
    }
    if (route.startsWith('logged-models')) {
      if (!state.loggedModels) {
        res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
        return res.end('<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>');
      }
      const models = state.loggedModels;
      if (key === 'POST logged-models/search') {
        const ids = (b.experiment_ids as string[] | undefined) ?? [];
        const mine = models.filter((m) => ids.includes(m.experimentId));
        const p = page(mine, b.page_token as string | undefined, Math.min(Number(b.max_results ?? 100), pageSize));
        return json(res, 200, {
          models: p.items.map((m) => ({
            info: {
              model_id: m.id,
              experiment_id: m.experimentId,
              name: m.name,
              artifact_uri: `mlflow-artifacts:/${m.experimentId}/models/${m.id}/artifacts`,
              status: m.status ?? 'LOGGED_MODEL_READY',
              ...(m.sourceRunId ? { source_run_id: m.sourceRunId } : {}),
            },
            data: {},
          })),
          ...(p.next ? { next_page_token: p.next } : {}),
        });
      }
      const dirs = /^logged-models\/([^/]+)\/artifacts\/directories$/.exec(route);
      if (req.method === 'GET' && dirs) {
        const m = models.find((x) => x.id === decodeURIComponent(dirs[1]!));
        if (!m) return notFound(res, `Logged model '${dirs[1]}' not found`);
        const files = listDir(m.files, q.get('artifact_directory_path') ?? '');
        return json(res, 200, { root_uri: `mlflow-artifacts:/${m.experimentId}/models/${m.id}/artifacts`, ...(files.length ? { files } : {}) });
      }
      const one = /^logged-models\/([^/]+)$/.exec(route);
      if (req.method === 'GET' && one) {
        const m = models.find((x) => x.id === decodeURIComponent(one[1]!));
        if (!m) return notFound(res, `Logged model '${one[1]}' not found`);
        return json(res, 200, { model: { info: { model_id: m.id, name: m.name, experiment_id: m.experimentId, ...(m.sourceRunId ? { source_run_id: m.sourceRunId } : {}) } } });
      }
    }
    if (key === 'GET registered-models/get') {
      const name = q.get('name');
      if (!name || !state.registeredModels.includes(name)) return notFound(res, `Registered Model with name=${name} not found`);
      return json(res, 200, { registered_model: { name, creation_timestamp: 1764000000000 } });
    }
    if (key === 'GET registered-models/search') {
      return json(res, 200, state.registeredModels.length ? { registered_models: state.registeredModels.map((name) => ({ name })) } : {});
    }
    if (key === 'GET model-versions/search') {
      const m = /^name\s*=\s*'([^']*)'$/.exec(q.get('filter') ?? '');
      const versions = state.versions.filter((v) => !m || v.name === m[1]);
      const p = page(versions, q.get('page_token') ?? undefined, Math.min(Number(q.get('max_results') ?? 1000), pageSize));
      return json(res, 200, {
        ...(p.items.length
          ? {
              model_versions: p.items.map((v) => ({
                name: v.name,
                version: v.version,
                creation_timestamp: 1764000000000,
                current_stage: 'None',
                source: v.modelId ? `models:/${v.modelId}` : `mlflow-artifacts:/1/${v.runId ?? 'x'}/artifacts/model`,
                ...(v.runId ? { run_id: v.runId } : {}),
                ...(v.modelId ? { model_id: v.modelId } : {}),
                status: v.status ?? 'READY',
              })),
            }
          : {}),
        ...(p.next ? { next_page_token: p.next } : {}),
      });
    }
    return json(res, 404, { error_code: 'ENDPOINT_NOT_FOUND', message: `No route for ${key}` });
  });
  return Object.assign(server, { state });
}
