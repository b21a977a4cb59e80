/**
 * MLflow runs as the `mlflow` check sees them: the REST shapes (proto JSON, where empty
 * lists are left out) read defensively into plain records, the per-run expectations
 * (params, metrics, tags, a logged model), and where a run's model is found: under the
 * run's artifacts (MLflow 2) or as a logged model whose source run it is (MLflow 3).
 */
import { checkValue, clipText } from '../json-expect.js';
import type { ValueExpectation } from '../json-expect.js';
import type { MlflowApi } from './mlflow-api.js';

export interface RunRecord {
  id: string;
  name: string;
  status: string;
  experimentId: string;
  lifecycleStage: string;
  params: Map<string, string>;
  metrics: Map<string, number>;
  tags: Map<string, string>;
  /** MLflow 3: ids of the logged models the run produced (`outputs.model_outputs`). */
  modelIds: string[];
}

const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** MLflow writes NaN and infinities as strings in JSON. */
function metricValue(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const n = Number(v);
    return v.trim() === '' ? Number.NaN : n;
  }
  return Number.NaN;
}

function keyValues(entries: unknown): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of list(entries)) {
    const o = obj(e);
    if (typeof o.key === 'string') m.set(o.key, str(o.value));
  }
  return m;
}

export function toRunRecord(raw: unknown): RunRecord | undefined {
  const run = obj(raw);
  const info = obj(run.info);
  const data = obj(run.data);
  const id = str(info.run_id) || str(info.run_uuid);
  if (!id) return undefined;
  const tags = keyValues(data.tags);
  const metrics = new Map<string, number>();
  for (const e of list(data.metrics)) {
    const o = obj(e);
    if (typeof o.key === 'string') metrics.set(o.key, metricValue(o.value));
  }
  return {
    id,
    name: str(info.run_name) || tags.get('mlflow.runName') || '',
    status: str(info.status),
    experimentId: str(info.experiment_id),
    lifecycleStage: str(info.lifecycle_stage) || 'active',
    params: keyValues(data.params),
    metrics,
    tags,
    modelIds: list(obj(run.outputs).model_outputs)
      .map((o) => str(obj(o).model_id))
      .filter(Boolean),
  };
}

export function runLabel(run: RunRecord): string {
  return run.name ? `run "${run.name}" (${run.id.slice(0, 8)})` : `run ${run.id.slice(0, 8)}`;
}

/** Names only (they must be there), or names with operators on their values. */
export type KeyExpectations = string[] | Record<string, ValueExpectation>;

export interface RunExpectations {
  params?: KeyExpectations;
  metrics?: KeyExpectations;
  tags?: KeyExpectations;
  model?: { artifactPath?: string };
}

function entriesOf(k: KeyExpectations): Array<[string, ValueExpectation]> {
  return Array.isArray(k) ? k.map((name) => [name, { exists: true }]) : Object.entries(k);
}

/** Problems of params, metrics and tags (cheap: no requests). */
export function fieldProblems(run: RunRecord, e: RunExpectations): string[] {
  const problems: string[] = [];
  const groups = [
    ['param', e.params, run.params, { numericStrings: true }],
    ['metric', e.metrics, run.metrics, {}],
    ['tag', e.tags, run.tags, { numericStrings: true }],
  ] as const;
  for (const [kind, expectations, values, options] of groups) {
    if (!expectations) continue;
    for (const [key, ops] of entriesOf(expectations)) {
      const why = checkValue(values.get(key), ops, options);
      if (why) problems.push(`${kind} \`${key}\` ${why}`);
    }
  }
  return problems;
}

interface LoggedModel {
  id: string;
  name: string;
  sourceRunId: string;
  status: string;
}

const MAX_LOGGED_MODELS = 5_000;
const MAX_DIRS_SCANNED = 20;

/** Finds a run's MLflow model (an `MLmodel` file) with as few requests as it can. */
export class ModelFinder {
  private logged?: Promise<LoggedModel[] | undefined>;

  constructor(
    private readonly api: MlflowApi,
    private readonly experimentId: string,
  ) {}

  /** MLflow 3's logged models of the experiment; `undefined` on a server without them. */
  private loggedModels(): Promise<LoggedModel[] | undefined> {
    this.logged ??= this.api
      .all('POST', 'logged-models/search', { experiment_ids: [this.experimentId], max_results: 100 }, 'models', {
        maxItems: MAX_LOGGED_MODELS,
        missingOk: true,
      })
      .then((models) =>
        models?.map((m) => {
          const info = obj(obj(m).info);
          return { id: str(info.model_id), name: str(info.name), sourceRunId: str(info.source_run_id), status: str(info.status) };
        }),
      );
    return this.logged;
  }

  private async hasMlmodel(endpoint: string, params: Record<string, unknown>, expected: string): Promise<{ found: boolean; dirs: string[] }> {
    const files = (await this.api.all('GET', endpoint, params, 'files', { maxItems: 10_000, maxPages: 10, missingOk: true })) ?? [];
    const dirs: string[] = [];
    let found = false;
    for (const f of files) {
      const o = obj(f);
      const path = str(o.path);
      if (o.is_dir === true) dirs.push(path);
      else if (path === expected) found = true;
    }
    return { found, dirs };
  }

  /** `undefined` when the run has the model, else why not (to follow the run's label). */
  async problem(run: RunRecord, artifactPath: string | undefined): Promise<string | undefined> {
    const logged = (await this.loggedModels()) ?? [];
    const mine = logged.filter(
      (m) => (m.sourceRunId === run.id || run.modelIds.includes(m.id)) && m.status !== 'LOGGED_MODEL_UPLOAD_FAILED',
    );
    const named = artifactPath === undefined ? mine : mine.filter((m) => m.name === artifactPath);
    for (const m of named.slice(0, 10)) {
      const r = await this.hasMlmodel(`logged-models/${encodeURIComponent(m.id)}/artifacts/directories`, {}, 'MLmodel');
      if (r.found) return undefined;
    }

    // MLflow 2 (and models logged as plain artifacts): <artifactPath>/MLmodel under the run.
    if (artifactPath !== undefined) {
      const r = await this.hasMlmodel('artifacts/list', { run_id: run.id, path: artifactPath }, `${artifactPath}/MLmodel`);
      if (r.found) return undefined;
    } else {
      const root = await this.hasMlmodel('artifacts/list', { run_id: run.id }, 'MLmodel');
      if (root.found) return undefined;
      for (const dir of root.dirs.slice(0, MAX_DIRS_SCANNED)) {
        const r = await this.hasMlmodel('artifacts/list', { run_id: run.id, path: dir }, `${dir}/MLmodel`);
        if (r.found) return undefined;
      }
    }

    if (artifactPath === undefined) return 'logged no MLflow model (no MLmodel file among its artifacts or logged models)';
    const others = mine.filter((m) => m.name !== artifactPath).map((m) => `\`${m.name}\``);
    const hint = others.length > 0 ? ` (it logged a model named ${clipText(others.slice(0, 3).join(', '), 200)})` : '';
    return `has no MLflow model named \`${artifactPath}\`${hint}`;
  }
}

/** Normalises a param value for comparison across runs: "100" and "100.0" are the same. */
export function normaliseParam(v: string): string {
  const t = v.trim();
  if (t !== '' && Number.isFinite(Number(t))) return String(Number(t));
  return t;
}
