/**
 * The `mlflow`, `http` and `command` checks against a real MLflow tracking server in a
 * real sandbox: the server runs in the workspace container (as root, as a lab's setup
 * step would start it), the candidate's training script logs runs and registers models
 * through the MLflow client, and every check runs through the grader container.
 *
 * Needs the shared Python image (labs/_images/python-ml), which the test command's setup
 * builds: its tag is the one the server computes (or OPSLAB_PYTHON_ML_IMAGE). Without it
 * the suite fails, saying how to build it.
 */
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandCheck, commandSpecSchema } from '../../server/checker/checks/command.js';
import { httpCheck, httpSpecSchema } from '../../server/checker/checks/http.js';
import { mlflowCheck, mlflowSpecSchema } from '../../server/checker/checks/mlflow.js';
import type { CheckContext, CheckResult } from '../../server/checker/types.js';
import path from 'node:path';
import { imageTag } from '../../server/labs/images.js';
import { DockerDriver } from '../../server/sandbox/docker.js';
import { REPO_ROOT } from '../helpers/server-process.js';
import type { SandboxRef } from '../../server/sandbox/driver.js';

const IMAGE = process.env.OPSLAB_PYTHON_ML_IMAGE ?? imageTag(path.join(REPO_ROOT, 'labs'), 'python-ml');
const logger = pino({ level: 'warn' });
const driver = new DockerDriver({ ownerId: `mlflow-check-${randomUUID()}`, logger });
if (!(await driver.imageExists(IMAGE))) {
  throw new Error(`image ${IMAGE} is missing: build it with bash scripts/setup/all.sh (or set OPSLAB_PYTHON_ML_IMAGE)`);
}

const TRAIN = String.raw`
import sys
import mlflow
import mlflow.sklearn
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

X, y = make_classification(n_samples=400, n_features=6, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
mlflow.set_experiment("churn-prediction")
for n_estimators, max_depth in [(20, 3), (40, 5)]:
    with mlflow.start_run():
        mlflow.log_params({"n_estimators": n_estimators, "max_depth": max_depth, "random_state": 42})
        clf = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=42).fit(X_train, y_train)
        pred = clf.predict(X_test)
        mlflow.log_metrics({"accuracy": accuracy_score(y_test, pred), "f1": f1_score(y_test, pred)})
        # MLflow 3.17 saves with skops and asks for the tree type to be trusted explicitly.
        mlflow.sklearn.log_model(clf, name="model", registered_model_name="churn-classifier",
                                 skops_trusted_types=["sklearn.tree._tree.Tree"])
try:
    with mlflow.start_run(run_name="crashed"):
        mlflow.log_param("n_estimators", 1)
        raise RuntimeError("boom")
except RuntimeError:
    pass
mlflow.set_experiment("scratch")
with mlflow.start_run(run_name="elsewhere"):
    mlflow.log_param("n_estimators", 1)
print("trained")
`;

/** The hidden evaluation of issue 5, in small: the newest version really scores what its run logged. */
const EVALUATE = String.raw`
import json, mlflow
from mlflow import MlflowClient
from sklearn.datasets import make_classification
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
client = MlflowClient()
newest = max(client.search_model_versions("name='churn-classifier'"), key=lambda v: int(v.version))
model = mlflow.pyfunc.load_model(f"models:/churn-classifier/{newest.version}")
X, y = make_classification(n_samples=400, n_features=6, random_state=0)
_, X_test, _, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
acc = accuracy_score(y_test, model.predict(X_test))
logged = client.get_run(newest.run_id).data.metrics["accuracy"]
print(json.dumps({"version": int(newest.version), "accuracy": acc, "logged": logged, "gap": abs(acc - logged)}))
`;

describe('checks against a real MLflow server in a sandbox', () => {
  const sessionId = `mlflow-${randomUUID().slice(0, 8)}`;
  let ref: SandboxRef;
  let ctx: CheckContext;

  beforeAll(async () => {
    ref = await driver.create({
      sessionId,
      image: IMAGE,
      network: 'isolated',
      resources: { cpus: 2, memoryMb: 2048, pids: 512, diskMb: 2048 },
      capAdd: [],
      env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000' },
      size: { cols: 120, rows: 40 },
    });
    ctx = {
      snapshot: () => Promise.reject(new Error('not used')),
      execGrader: (cmd, options) => driver.execGrader(ref, cmd, options),
      labDir: '/nonexistent',
      startRef: 'opslab-start',
      signal: new AbortController().signal,
      logger,
    };
    // As a lab's setup step would: root, in the background, state where the candidate cannot write.
    const start = await driver.exec(
      ref,
      [
        'sh',
        '-c',
        // Without the job runner MLflow 3.17 idles at ~370 MiB instead of ~1 GiB (7 huey consumers).
        'mkdir -p /srv/mlflow && cd /srv/mlflow && MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false ' +
          'setsid nohup mlflow server --host 127.0.0.1 --port 5000 ' +
          '--backend-store-uri sqlite:////srv/mlflow/mlflow.db --artifacts-destination /srv/mlflow/artifacts ' +
          '--workers 1 >/srv/mlflow/server.log 2>&1 </dev/null &',
      ],
      { user: 'root' },
    );
    expect(start.exitCode, start.stderr).toBe(0);

    // Readiness through the http check itself.
    const ready = await httpCheck.run(
      httpSpecSchema.parse({ type: 'http', url: 'http://127.0.0.1:5000/health', wait: { timeoutSeconds: 120, intervalMs: 500 } }),
      ctx,
    );
    if (ready.status !== 'passed') {
      const log = await driver.exec(ref, ['tail', '-n', '40', '/srv/mlflow/server.log'], { user: 'root' });
      throw new Error(`mlflow server did not come up: ${JSON.stringify(ready)}\n${log.stdout}`);
    }

    const train = await driver.exec(ref, ['python3', '-c', TRAIN], {
      env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000', HOME: '/home/candidate' },
      timeoutMs: 240_000,
    });
    expect(train.exitCode, `${train.stdout}\n${train.stderr.slice(-3000)}`).toBe(0);
  });

  afterAll(async () => {
    await driver.reap(new Set());
  });

  async function mlflow(fields: Record<string, unknown>): Promise<CheckResult> {
    return mlflowCheck.run(mlflowSpecSchema.parse({ type: 'mlflow', experiment: 'churn-prediction', ...fields }), ctx);
  }

  it.each([
    ['runs tracked', { expect: { runs: { gte: 2 } } }],
    ['params', { expect: { eachRun: { params: { n_estimators: { type: 'integer' }, max_depth: { type: 'integer' }, random_state: { eq: 42 } } } } }],
    ['metrics', { expect: { eachRun: { metrics: { accuracy: { gte: 0, lte: 1 }, f1: { gte: 0, lte: 1 } } } } }],
    ['model logged', { expect: { eachRun: { model: { artifactPath: 'model' } } } }],
    ['any model logged', { expect: { eachRun: { model: {} } } }],
    ['registered', { expect: { registeredModel: { name: 'churn-classifier', versions: { gte: 2 } } } }],
    ['two settings', { expect: { runs: { gte: 2 }, differentParamsAcrossRuns: ['n_estimators', 'max_depth'] } }],
    ['failed runs counted when asked', { runStatus: ['FINISHED', 'FAILED'], expect: { runs: { eq: 3 } } }],
    ['runFilter', { runFilter: 'params.n_estimators = \'40\'', expect: { runs: { eq: 1 } } }],
  ])('passes: %s', async (_name, fields) => {
    const r = await mlflow(fields);
    expect(r.status, JSON.stringify(r)).toBe('passed');
  });

  it('fails what the candidate did not do, with the reason', async () => {
    const wrongModel = await mlflow({ expect: { eachRun: { model: { artifactPath: 'clf' } } } });
    expect(wrongModel.status === 'failed' && wrongModel.message).toMatch(/has no MLflow model named `clf` \(it logged a model named `model`\)/);

    const tooFew = await mlflow({ expect: { registeredModel: { name: 'churn-classifier', versions: { gte: 5 } } } });
    expect(tooFew.status === 'failed' && tooFew.message).toBe('the registered model `churn-classifier` has 2 versions, expected at least 5');

    const counted = await mlflow({ expect: { runs: { gte: 3 } } });
    expect(counted.status === 'failed' && counted.message).toBe(
      'experiment `churn-prediction` has 2 finished runs, expected at least 3 (other runs: 1 FAILED)',
    );

    const missing = await mlflow({ experiment: 'churn' });
    expect(missing.status === 'failed' && missing.message).toMatch(/^there is no experiment `churn` on the tracking server \(it has: .*`churn-prediction`/);

    const wrongParam = await mlflow({ expect: { eachRun: { params: { max_depth: { gte: 4 } } } } });
    expect(wrongParam.status === 'failed' && wrongParam.message).toContain('param `max_depth` is "3", expected at least 4');
  });

  it('command: the hidden evaluation runs in the grader with its own python', async () => {
    const r = await commandCheck.run(
      {
        ...commandSpecSchema.parse({
          type: 'command',
          run: ['python3', '-c', EVALUATE],
          env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000' },
          expect: { stdoutJson: [{ path: 'version', eq: 2 }, { path: 'gap', lte: 0.05 }] },
        }),
        timeoutSeconds: 150,
      },
      ctx,
    );
    expect(r.status, JSON.stringify(r)).toBe('passed');
  });

  it('http: MLflow REST answers judged by the http check', async () => {
    const r = await httpCheck.run(
      httpSpecSchema.parse({
        type: 'http',
        url: 'http://127.0.0.1:5000/api/2.0/mlflow/experiments/get-by-name?experiment_name=churn-prediction',
        expect: { status: 200, json: [{ path: 'experiment.name', eq: 'churn-prediction' }], headers: { 'content-type': 'json' }, maxLatencyMs: 5000 },
      }),
      ctx,
    );
    expect(r.status, JSON.stringify(r)).toBe('passed');
  });
});
