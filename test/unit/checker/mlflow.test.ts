/**
 * The `mlflow` check against a fake tracking server with the real REST shapes, through
 * the real curl on the host. Both ways a model can be stored are covered: MLflow 2 (under
 * the run's artifacts) and MLflow 3 (a logged model whose source run is the run).
 */
import type http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mlflowCheck, mlflowSpecSchema } from '../../../server/checker/checks/mlflow.js';
import type { MlflowSpec } from '../../../server/checker/checks/mlflow.js';
import type { CheckResult } from '../../../server/checker/types.js';
import type { HostContext } from './http-fakes.js';
import { freePort, hostContext, json } from './http-fakes.js';
import type { FakeMlflowState, FakeRun } from './mlflow-fake.js';
import { startFakeMlflow } from './mlflow-fake.js';

const MODEL_FILES = ['model/MLmodel', 'model/model.pkl', 'model/requirements.txt', 'model/conda.yaml'];

function mlflow2(): FakeMlflowState {
  return {
    experiments: [
      { id: '0', name: 'Default' },
      { id: '1', name: 'churn-prediction' },
      { id: '2', name: 'sandbox-tests' },
    ],
    runs: [
      {
        id: 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
        name: 'bright-fox-1',
        experimentId: '1',
        params: { n_estimators: '100', max_depth: '5', random_state: '42' },
        metrics: { accuracy: 0.86, f1: 0.71 },
        artifacts: MODEL_FILES,
      },
      {
        id: 'b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2',
        name: 'calm-owl-2',
        experimentId: '1',
        params: { n_estimators: '200', max_depth: '8', random_state: '42' },
        metrics: { accuracy: 0.88, f1: 0.74 },
        artifacts: MODEL_FILES,
      },
      {
        id: 'c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3',
        name: 'crashed-3',
        experimentId: '1',
        status: 'FAILED',
        params: { n_estimators: '300', max_depth: 'None', random_state: '42' },
      },
      { id: 'd4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4', name: 'elsewhere', experimentId: '2', params: { n_estimators: '1' }, artifacts: MODEL_FILES },
    ],
    registeredModels: ['churn-classifier'],
    versions: [
      { name: 'churn-classifier', version: '1', runId: 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1' },
      { name: 'churn-classifier', version: '2', runId: 'b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2' },
    ],
  };
}

/** The same work as MLflow 3 stores it: models are logged models, not run artifacts. */
function mlflow3(): FakeMlflowState {
  const s = mlflow2();
  for (const r of s.runs) delete r.artifacts;
  s.runs[1]!.modelOutputs = ['m-2'];
  s.loggedModels = [
    { id: 'm-1', name: 'model', experimentId: '1', sourceRunId: s.runs[0]!.id, files: ['MLmodel', 'model.pkl', 'python_env.yaml'] },
    // Found through the run's outputs.model_outputs only.
    { id: 'm-2', name: 'model', experimentId: '1', files: ['MLmodel', 'model.pkl'] },
  ];
  s.versions = [
    { name: 'churn-classifier', version: '1', runId: s.runs[0]!.id, modelId: 'm-1' },
    { name: 'churn-classifier', version: '2', runId: s.runs[1]!.id, modelId: 'm-2' },
  ];
  return s;
}

type Fake = Awaited<ReturnType<typeof startFakeMlflow>>;
let ctx: HostContext;
const servers: Fake[] = [];

beforeAll(() => {
  ctx = hostContext();
});
afterAll(() => ctx.dispose());
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(state: FakeMlflowState): Promise<Fake> {
  const s = await startFakeMlflow(state);
  servers.push(s);
  return s;
}

function spec(server: { port: number }, fields: Record<string, unknown>): MlflowSpec {
  return mlflowSpecSchema.parse({ type: 'mlflow', trackingUri: `http://127.0.0.1:${server.port}`, experiment: 'churn-prediction', ...fields });
}

async function run(server: { port: number }, fields: Record<string, unknown>): Promise<CheckResult> {
  return mlflowCheck.run(spec(server, fields), ctx);
}

function failedMessage(r: CheckResult): string {
  expect(r.status, JSON.stringify(r)).toBe('failed');
  return r.status === 'failed' ? r.message : '';
}

/** The mlflow-tracking lab's requirements (issue 5), one check each. */
const LAB_CHECKS: Record<string, Record<string, unknown>> = {
  experiment: { expect: { runs: { gte: 1 } } },
  params: {
    expect: { eachRun: { params: { n_estimators: { type: 'integer' }, max_depth: { type: 'integer' }, random_state: { eq: 42 } } } },
  },
  metrics: { expect: { eachRun: { metrics: { accuracy: { gte: 0, lte: 1 }, f1: { gte: 0, lte: 1 } } } } },
  model: { expect: { eachRun: { model: { artifactPath: 'model' } } } },
  registered: { expect: { registeredModel: { name: 'churn-classifier', versions: { gte: 2 } } } },
  twoSettings: { expect: { runs: { gte: 2 }, differentParamsAcrossRuns: ['n_estimators', 'max_depth'] } },
};

describe('mlflow check: a correct solution passes, on MLflow 2 and MLflow 3 stores', () => {
  for (const [store, state] of [
    ['MLflow 2', mlflow2],
    ['MLflow 3', mlflow3],
  ] as const) {
    it.each(Object.keys(LAB_CHECKS))(`${store}: %s`, async (name) => {
      const server = await fake(state());
      const r = await run(server, LAB_CHECKS[name]!);
      expect(r.status, JSON.stringify(r)).toBe('passed');
    });
  }

  it('all expectations in one check, with evidence for staff', async () => {
    const server = await fake(mlflow3());
    const r = await run(server, {
      expect: {
        runs: { eq: 2 },
        eachRun: { params: ['n_estimators', 'max_depth', 'random_state'], metrics: ['accuracy', 'f1'], tags: ['mlflow.user'], model: {} },
        someRun: { metrics: { accuracy: { gte: 0.87 } } },
        differentParamsAcrossRuns: ['n_estimators'],
        registeredModel: { name: 'churn-classifier' },
      },
    });
    expect(r.status, JSON.stringify(r)).toBe('passed');
    expect(r.status === 'passed' && r.evidence).toContain('newest version 2 from run b2b2b2b2');
    // Every request went through the grader's curl.
    expect(ctx.calls.every((c) => c.cmd[0] === '/usr/bin/curl')).toBe(true);
  });

  it('the experiment alone (no expect) passes when it exists', async () => {
    const server = await fake(mlflow2());
    expect((await run(server, {})).status).toBe('passed');
  });
});

describe('mlflow check: each expectation fails with a message the candidate can act on', () => {
  it('no such experiment: names the ones there are', async () => {
    const server = await fake(mlflow2());
    expect(failedMessage(await run(server, { experiment: 'churn' }))).toBe(
      'there is no experiment `churn` on the tracking server (it has: `Default`, `churn-prediction`, `sandbox-tests`)',
    );
  });

  it('a deleted experiment', async () => {
    const state = mlflow2();
    state.experiments[1]!.lifecycleStage = 'deleted';
    const server = await fake(state);
    expect(failedMessage(await run(server, {}))).toBe('the experiment `churn-prediction` was deleted');
  });

  it('too few runs, counting only finished ones by default', async () => {
    const server = await fake(mlflow2());
    expect(failedMessage(await run(server, { expect: { runs: { gte: 3 } } }))).toBe(
      'experiment `churn-prediction` has 2 finished runs, expected at least 3 (other runs: 1 FAILED)',
    );
    expect((await run(server, { runStatus: ['FINISHED', 'FAILED'], expect: { runs: { gte: 3 } } })).status).toBe('passed');
    expect(failedMessage(await run(server, { runStatus: 'KILLED', expect: { runs: { gte: 1 } } }))).toContain(
      'has 0 runs with status KILLED, expected at least 1',
    );
  });

  it('an empty experiment fails every per-run expectation (never a vacuous pass)', async () => {
    const state = mlflow2();
    state.runs = [];
    const server = await fake(state);
    expect(failedMessage(await run(server, { expect: { eachRun: { params: ['n_estimators'] } } }))).toBe(
      'experiment `churn-prediction` has 0 finished runs, expected at least 1',
    );
  });

  it('params: missing, not a number, or another value; names the run', async () => {
    const server = await fake(mlflow2());
    const msg = failedMessage(await run(server, { runStatus: ['FINISHED', 'FAILED'], ...LAB_CHECKS.params }));
    expect(msg).toBe(
      '1 of 3 runs with status FINISHED or FAILED in `churn-prediction` does not meet the expectations: run "crashed-3" (c3c3c3c3): param `max_depth` is "None", expected an integer',
    );
    const msg2 = failedMessage(await run(server, { expect: { eachRun: { params: { criterion: { eq: 'gini' }, n_estimators: { gte: 150 } } } } }));
    expect(msg2).toContain('2 of 2 finished runs in `churn-prediction` do not meet the expectations');
    expect(msg2).toContain('run "bright-fox-1" (a1a1a1a1): param `criterion` is missing, param `n_estimators` is "100", expected at least 150');
    expect(msg2).toContain('run "calm-owl-2" (b2b2b2b2): param `criterion` is missing');
  });

  it('metrics: bounds, and NaN never passes a bound', async () => {
    const state = mlflow2();
    state.runs[1]!.metrics = { accuracy: 'NaN', f1: 0.7 };
    const server = await fake(state);
    const msg = failedMessage(await run(server, { expect: { eachRun: { metrics: { accuracy: { gte: 0, lte: 0.85 } } } } }));
    expect(msg).toContain('run "bright-fox-1" (a1a1a1a1): metric `accuracy` is 0.86, expected at most 0.85');
    expect(msg).toContain('run "calm-owl-2" (b2b2b2b2): metric `accuracy` is NaN, expected at least 0');
    expect(failedMessage(await run(server, { expect: { eachRun: { metrics: ['roc_auc'] } } }))).toContain('metric `roc_auc` is missing');
  });

  it('tags', async () => {
    const state = mlflow2();
    state.runs[0]!.tags = { team: 'growth' };
    const server = await fake(state);
    expect(failedMessage(await run(server, { expect: { eachRun: { tags: { team: { matches: '^growth$' } } } } }))).toContain(
      'run "calm-owl-2" (b2b2b2b2): tag `team` is missing',
    );
    expect((await run(server, { expect: { someRun: { tags: { team: { eq: 'growth' } } } } })).status).toBe('passed');
  });

  it('someRun: at least one run meets all of it; else the closest run is named', async () => {
    const server = await fake(mlflow2());
    expect((await run(server, { expect: { someRun: { metrics: { accuracy: { gte: 0.87 } }, model: { artifactPath: 'model' } } } })).status).toBe(
      'passed',
    );
    expect(failedMessage(await run(server, { expect: { someRun: { metrics: { accuracy: { gte: 0.95 }, f1: { gte: 0.72 } } } } }))).toBe(
      'no finished run in `churn-prediction` meets all of the expectations; closest, run "calm-owl-2" (b2b2b2b2): metric `accuracy` is 0.88, expected at least 0.95',
    );
  });

  it('model (MLflow 2): no MLmodel under the artifact path', async () => {
    const state = mlflow2();
    state.runs[0]!.artifacts = ['confusion_matrix.png', 'sk_model/MLmodel', 'sk_model/model.pkl'];
    const server = await fake(state);
    expect(failedMessage(await run(server, LAB_CHECKS.model!))).toBe(
      '1 of 2 finished runs in `churn-prediction` does not meet the expectations: run "bright-fox-1" (a1a1a1a1): has no MLflow model named `model`',
    );
    // Without artifactPath, a model anywhere one level down counts.
    expect((await run(server, { expect: { eachRun: { model: {} } } })).status).toBe('passed');
    state.runs[0]!.artifacts = ['model/model.pkl'];
    expect(failedMessage(await run(server, { expect: { eachRun: { model: {} } } }))).toContain(
      'logged no MLflow model (no MLmodel file among its artifacts or logged models)',
    );
  });

  it('model (MLflow 3): a logged model with another name is pointed out', async () => {
    const state = mlflow3();
    state.loggedModels![0]!.name = 'clf';
    const server = await fake(state);
    expect(failedMessage(await run(server, LAB_CHECKS.model!))).toContain(
      'run "bright-fox-1" (a1a1a1a1): has no MLflow model named `model` (it logged a model named `clf`)',
    );
    // A logged model whose upload failed, or without an MLmodel, does not count.
    state.loggedModels![0]!.name = 'model';
    state.loggedModels![0]!.files = ['model.pkl'];
    expect(failedMessage(await run(server, LAB_CHECKS.model!))).toContain('run "bright-fox-1" (a1a1a1a1): has no MLflow model named `model`');
  });

  it('differentParamsAcrossRuns: two runs with the same settings are not enough', async () => {
    const state = mlflow2();
    state.runs[1]!.params = { n_estimators: '100.0', max_depth: '5', random_state: '7' };
    const server = await fake(state);
    expect(failedMessage(await run(server, LAB_CHECKS.twoSettings!))).toBe(
      'all 2 finished runs in `churn-prediction` used the same `n_estimators`, `max_depth` (["100","5"]); expected at least two different settings',
    );
    expect((await run(server, { expect: { differentParamsAcrossRuns: ['random_state'] } })).status).toBe('passed');
    state.runs[1]!.params = {};
    expect(failedMessage(await run(server, LAB_CHECKS.twoSettings!))).toBe(
      'fewer than two finished runs in `churn-prediction` have the params `n_estimators`, `max_depth` (1)',
    );
  });

  it('registered model: missing, too few versions, newest from elsewhere or from no run', async () => {
    const state = mlflow2();
    const server = await fake(state);
    expect(failedMessage(await run(server, { expect: { registeredModel: { name: 'churn-model' } } }))).toBe(
      'there is no registered model `churn-model` (registered models: `churn-classifier`)',
    );
    expect(failedMessage(await run(server, { expect: { registeredModel: { name: 'churn-classifier', versions: { gte: 3 } } } }))).toBe(
      'the registered model `churn-classifier` has 2 versions, expected at least 3',
    );
    // A failed registration does not count as a version, nor as the newest.
    state.versions.push({ name: 'churn-classifier', version: '3', runId: 'd4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4', status: 'FAILED_REGISTRATION' });
    expect((await run(server, LAB_CHECKS.registered!)).status).toBe('passed');
    state.versions.push({ name: 'churn-classifier', version: '10', runId: 'd4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4' });
    expect(failedMessage(await run(server, LAB_CHECKS.registered!))).toBe(
      'the newest version of `churn-classifier` (version 10) comes from run "elsewhere" (d4d4d4d4) in another experiment (id 2), not `churn-prediction`',
    );
    expect((await run(server, { expect: { registeredModel: { name: 'churn-classifier', newestFromExperiment: false } } })).status).toBe('passed');
    state.versions.push({ name: 'churn-classifier', version: '11' });
    expect(failedMessage(await run(server, LAB_CHECKS.registered!))).toBe(
      'the newest version of `churn-classifier` (version 11) was not registered from a run (register the model logged by a run of `churn-prediction`)',
    );
  });

  it('registered model (MLflow 3): the source run is found through the logged model', async () => {
    const state = mlflow3();
    state.loggedModels!.push({ id: 'm-3', name: 'model', experimentId: '2', sourceRunId: state.runs[3]!.id, files: ['MLmodel'] });
    state.versions.push({ name: 'churn-classifier', version: '3', modelId: 'm-3' });
    const server = await fake(state);
    expect(failedMessage(await run(server, LAB_CHECKS.registered!))).toContain('(version 3) comes from run "elsewhere" (d4d4d4d4) in another experiment');
  });

  it('several problems are reported together', async () => {
    const server = await fake(mlflow2());
    const msg = failedMessage(
      await run(server, { expect: { runs: { gte: 5 }, registeredModel: { name: 'nope' }, eachRun: { metrics: ['roc_auc'] } } }),
    );
    expect(msg.split('; ').length).toBeGreaterThanOrEqual(3);
  });
});

describe('mlflow check: pagination, runFilter, hostile or broken servers', () => {
  function manyRuns(n: number): FakeRun[] {
    return Array.from({ length: n }, (_, i) => ({
      id: `run${String(i).padStart(28, '0')}`,
      experimentId: '1',
      params: { n_estimators: String(10 + i), max_depth: '3', random_state: '42' },
      metrics: { accuracy: 0.8, f1: 0.6 },
    }));
  }

  it('follows next_page_token for runs and model versions', async () => {
    const state = mlflow2();
    state.runs = manyRuns(450);
    state.pageSize = 100;
    state.versions = Array.from({ length: 250 }, (_, i) => ({ name: 'churn-classifier', version: String(i + 1), runId: state.runs[i]!.id }));
    const server = await fake(state);
    const r = await run(server, { expect: { runs: { eq: 450 }, registeredModel: { name: 'churn-classifier', versions: { eq: 250 } } } });
    expect(r.status, JSON.stringify(r)).toBe('passed');
    expect(server.requests.filter((q) => q.url.includes('runs/search')).length).toBe(5);
    expect(server.requests.filter((q) => q.url.includes('model-versions/search')).length).toBe(3);
  });

  it('passes runFilter to the server', async () => {
    const server = await fake(mlflow2());
    await run(server, { runFilter: "params.max_depth != 'None'", expect: { runs: { gte: 1 } } });
    const body = JSON.parse(server.requests.find((q) => q.url.includes('runs/search'))!.body) as Record<string, unknown>;
    expect(body).toMatchObject({ experiment_ids: ['1'], filter: "params.max_depth != 'None'", run_view_type: 'ACTIVE_ONLY' });
  });

  it('stops endless pagination with an error', async () => {
    const state = mlflow2();
    let n = 0;
    state.override = { 'POST runs/search': (_req, res) => json(res, 200, { next_page_token: `t${n++}` }) };
    const server = await fake(state);
    expect(await run(server, { expect: { runs: { gte: 1 } } })).toMatchObject({ status: 'error', code: 'TOO_MANY' });
  });

  it('a huge answer is an error, bounded by the size cap', async () => {
    const state = mlflow2();
    const big = JSON.stringify({ runs: [{ info: { run_id: 'x', experiment_id: '1', status: 'FINISHED' }, data: { tags: [{ key: 'k', value: 'v'.repeat(9 * 1024 * 1024) }] } }] });
    state.override = { 'POST runs/search': (_req, res: http.ServerResponse) => json(res, 200, JSON.parse(big)) };
    const server = await fake(state);
    const r = await run(server, { expect: { runs: { gte: 1 } } });
    expect(r).toMatchObject({ status: 'error', code: 'MLFLOW_BAD_ANSWER' });
    expect(r.status === 'error' && r.message).toMatch(/larger than 8388608 bytes/);
  });

  it('malformed JSON, a 500 and a wrong shape are errors; a bad filter is the lab author error', async () => {
    const state = mlflow2();
    const server = await fake(state);
    state.override = {
      'POST runs/search': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"runs": [ {"info": ');
      },
    };
    expect(await run(server, { expect: { runs: { gte: 1 } } })).toMatchObject({ status: 'error', code: 'MLFLOW_BAD_ANSWER' });
    state.override = { 'POST runs/search': (_req, res) => json(res, 500, { error_code: 'INTERNAL_ERROR', message: 'database is locked' }) };
    const r = await run(server, { expect: { runs: { gte: 1 } } });
    expect(r).toMatchObject({ status: 'error', code: 'MLFLOW_BAD_ANSWER' });
    expect(r.status === 'error' && r.message).toContain('answered 500 INTERNAL_ERROR: database is locked');
    state.override = { 'POST runs/search': (_req, res) => json(res, 200, { runs: 'all of them' }) };
    expect(await run(server, { expect: { runs: { gte: 1 } } })).toMatchObject({ status: 'error', code: 'MLFLOW_BAD_ANSWER' });
    state.override = {
      'POST runs/search': (_req, res) => json(res, 400, { error_code: 'INVALID_PARAMETER_VALUE', message: "Invalid filter 'params.x ~ 1'" }),
    };
    expect(await run(server, { runFilter: 'params.x ~ 1', expect: { runs: { gte: 1 } } })).toMatchObject({ status: 'error', code: 'BAD_SPEC' });
  });

  it('run records with odd shapes are read defensively', async () => {
    const state = mlflow2();
    state.override = {
      'POST runs/search': (_req, res) =>
        json(res, 200, {
          runs: [
            null,
            'x',
            { info: {} },
            { info: { run_uuid: 'legacy00legacy00', status: 'FINISHED', experiment_id: '1' }, data: { params: [{ key: 'n_estimators', value: 5 }, { nokey: 1 }], metrics: 'no' } },
          ],
        }),
    };
    const server = await fake(state);
    const r = await run(server, { expect: { runs: { eq: 1 }, eachRun: { params: { n_estimators: { eq: 5 } } } } });
    expect(r.status, JSON.stringify(r)).toBe('passed');
  });

  it('an unreachable tracking server is an error, not a fail', async () => {
    const port = await freePort();
    const r = await mlflowCheck.run(spec({ port }, { expect: { runs: { gte: 1 } } }), ctx);
    expect(r).toMatchObject({ status: 'error', code: 'MLFLOW_UNREACHABLE' });
    expect(r.status === 'error' && r.message).toContain(`no MLflow tracking server answered at http://127.0.0.1:${port}`);
  });
});

describe('mlflow check: the schema', () => {
  const parse = (fields: Record<string, unknown>) => mlflowSpecSchema.safeParse({ type: 'mlflow', experiment: 'churn-prediction', ...fields });

  it('defaults the tracking URI, the run status and expect', () => {
    const r = parse({});
    expect(r.success).toBe(true);
    expect(r.data).toMatchObject({ trackingUri: 'http://127.0.0.1:5000', runStatus: 'FINISHED', expect: {} });
  });

  it('refuses tracking URIs off the sandbox and other nonsense', () => {
    for (const trackingUri of ['http://mlflow.example.com', 'https://10.1.2.3:5000', 'file:///srv/mlruns', 'databricks', 'http://u:p@localhost:5000']) {
      expect(parse({ trackingUri }).success, trackingUri).toBe(false);
    }
    expect(parse({ experiment: '' }).success).toBe(false);
    expect(parse({ runStatus: 'DONE' }).success).toBe(false);
    expect(parse({ expect: { registeredModel: { name: "x' or name LIKE '%" } } }).success).toBe(false);
    expect(parse({ expect: { eachRun: {} } }).success).toBe(false);
    expect(parse({ expect: { eachRun: { model: { artifactPath: '../../etc' } } } }).success).toBe(false);
    expect(parse({ expect: { runs: {} } }).success).toBe(false);
    expect(parse({ expect: { runs: { gte: -1 } } }).success).toBe(false);
    expect(parse({ expect: { eachRun: { metrics: { accuracy: {} } } } }).success).toBe(false);
    expect(parse({ expect: { run: { gte: 1 } } }).success).toBe(false);
    expect(parse({ expect: { differentParamsAcrossRuns: [] } }).success).toBe(false);
  });
});
