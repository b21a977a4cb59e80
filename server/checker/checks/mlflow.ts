/**
 * `mlflow`: what the candidate tracked, read over MLflow's REST API from the grader
 * (mlflow-api.ts): an experiment, its runs and their params, metrics, tags and models,
 * and a registered model with its versions. Each expectation is optional, so one lab
 * requirement is one small check:
 *
 *   - id: runs-tracked
 *     type: mlflow
 *     experiment: churn-prediction          # must exist (not deleted)
 *     # trackingUri: http://127.0.0.1:5000  # the default
 *     # runStatus: FINISHED                 # which runs count (the default); a list is allowed
 *     # runFilter: "params.n_estimators != ''"   # an MLflow search filter, narrowing further
 *     expect:
 *       runs: { gte: 2 }                    # how many selected runs
 *       eachRun:                            # every selected run (at least one must exist)
 *         params: { n_estimators: { type: integer }, max_depth: { type: integer }, random_state: [] }
 *         metrics: { accuracy: { gte: 0, lte: 1 } }
 *         tags: [team]                      # a list: names that must be there
 *         model: { artifactPath: model }    # an MLflow model (MLmodel) named/under `model`
 *       someRun: { metrics: { accuracy: { gte: 0.8 } } }   # at least one run meets all of these
 *       differentParamsAcrossRuns: [n_estimators, max_depth]  # two runs differ in these
 *       registeredModel:
 *         name: churn-classifier
 *         versions: { gte: 2 }
 *         newestFromExperiment: true        # newest version's source run is in the experiment (default)
 *
 * An unreachable tracking server or a broken answer is an `error` (the lab's service),
 * never a fail.
 */
import { z } from 'zod';
import { valueExpectationSchema } from '../json-expect.js';
import type { CheckContext, CheckResult, CheckType } from '../types.js';
import { checkError, clip, fail, pass } from '../types.js';
import { parseSandboxUrl, sandboxUrlSchema } from './http-curl.js';
import { MlflowApi, MlflowFault, mapLimit } from './mlflow-api.js';
import type { RunExpectations, RunRecord } from './mlflow-runs.js';
import { fieldProblems, ModelFinder, normaliseParam, runLabel, toRunRecord } from './mlflow-runs.js';

const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;
const MAX_RUNS = 5_000;
const MAX_VERSIONS = 5_000;

const keyName = z.string().min(1).max(250);
const keyExpectations = z.union([z.array(keyName).max(100), z.record(keyName, valueExpectationSchema)]);
const countSchema = z
  .strictObject({
    eq: z.number().int().min(0).optional(),
    gte: z.number().int().min(0).optional(),
    lte: z.number().int().min(0).optional(),
  })
  .refine((c) => c.eq !== undefined || c.gte !== undefined || c.lte !== undefined, { message: 'give eq, gte or lte' });
type Count = z.infer<typeof countSchema>;

const runExpectSchema = z
  .strictObject({
    params: keyExpectations.optional(),
    metrics: keyExpectations.optional(),
    tags: keyExpectations.optional(),
    /** An MLflow model (a directory with an MLmodel file) logged by the run: `artifactPath` is log_model's name/artifact_path. */
    model: z
      .strictObject({
        artifactPath: z
          .string()
          .max(200)
          .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, 'a relative artifact path like `model`')
          .refine((p) => !p.split('/').includes('..'), 'no ..')
          .optional(),
      })
      .optional(),
  })
  .refine((e) => Object.values(e).some((v) => v !== undefined), { message: 'give params, metrics, tags or model' });

/** Registered model names are put into a search filter in quotes: no quotes or backslashes. */
const modelName = z.string().min(1).max(250).regex(/^[^'"\\`\0\n]+$/, 'a model name without quotes or backslashes');

export const mlflowSpecSchema = z.strictObject({
  type: z.literal('mlflow'),
  /** The tracking server, on the sandbox. */
  trackingUri: sandboxUrlSchema.default('http://127.0.0.1:5000'),
  experiment: z.string().min(1).max(500),
  /** Which runs count. */
  runStatus: z.union([z.enum(RUN_STATUSES), z.array(z.enum(RUN_STATUSES)).min(1)]).default('FINISHED'),
  /** An MLflow search filter (`params.x = '1' and metrics.y > 0`) that narrows the runs further. */
  runFilter: z.string().min(1).max(2000).optional(),
  expect: z
    .strictObject({
      runs: countSchema.optional(),
      eachRun: runExpectSchema.optional(),
      someRun: runExpectSchema.optional(),
      /** At least two selected runs differ in the values of these params (taken together). */
      differentParamsAcrossRuns: z.array(keyName).min(1).max(20).optional(),
      registeredModel: z
        .strictObject({
          name: modelName,
          /** Versions not failed at registration. */
          versions: countSchema.optional(),
          /** The newest version was registered from a run of this experiment. */
          newestFromExperiment: z.boolean().default(true),
        })
        .optional(),
    })
    .default({}),
});

export type MlflowSpec = z.output<typeof mlflowSpecSchema>;

export const mlflowCheck: CheckType<MlflowSpec> = {
  type: 'mlflow',
  schema: mlflowSpecSchema as z.ZodType<MlflowSpec>,
  run: async (spec, ctx) => {
    try {
      return await runMlflowCheck(spec, ctx);
    } catch (e) {
      if (e instanceof MlflowFault) return checkError(e.code, e.message);
      throw e;
    }
  },
};

function countProblem(n: number, c: Count): string | undefined {
  if (c.eq !== undefined && n !== c.eq) return `expected ${c.eq}`;
  if (c.gte !== undefined && n < c.gte) return `expected at least ${c.gte}`;
  if (c.lte !== undefined && n > c.lte) return `expected at most ${c.lte}`;
  return undefined;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function runMlflowCheck(spec: MlflowSpec, ctx: CheckContext): Promise<CheckResult> {
  const parsed = parseSandboxUrl(spec.trackingUri);
  if (!parsed.ok) return checkError('BAD_SPEC', `trackingUri refused: ${parsed.reason}`);
  const api = new MlflowApi(ctx, parsed.url.href.replace(/\/+$/, ''));
  const expect = spec.expect;
  const exp = `\`${spec.experiment}\``;
  const problems: string[] = [];
  const evidence: string[] = [];

  // The experiment.
  const got = await api.call('GET', 'experiments/get-by-name', { experiment_name: spec.experiment });
  if (got.status === 404 || got.errorCode === 'RESOURCE_DOES_NOT_EXIST') {
    return fail(`there is no experiment ${exp} on the tracking server${await otherExperiments(api)}`);
  }
  if (got.status !== 200) throw api.faultOf('GET', 'experiments/get-by-name', got);
  const experiment = (got.json.experiment ?? {}) as Record<string, unknown>;
  const experimentId = typeof experiment.experiment_id === 'string' ? experiment.experiment_id : '';
  if (!experimentId) throw new MlflowFault('MLFLOW_BAD_ANSWER', 'experiments/get-by-name answered without an experiment_id');
  if (experiment.lifecycle_stage === 'deleted') return fail(`the experiment ${exp} was deleted`);
  evidence.push(`experiment ${spec.experiment} (id ${experimentId})`);

  // Its runs, and the ones that count.
  const needRuns =
    expect.runs !== undefined || expect.eachRun !== undefined || expect.someRun !== undefined || expect.differentParamsAcrossRuns !== undefined;
  let runs: RunRecord[] = [];
  let selected: RunRecord[] = [];
  const statuses: readonly string[] = typeof spec.runStatus === 'string' ? [spec.runStatus] : spec.runStatus;
  const filtered = spec.runFilter ? ' matching the filter' : '';
  const finishedOnly = statuses.length === 1 && statuses[0] === 'FINISHED';
  const noun = finishedOnly ? `finished run${filtered}` : `run with status ${statuses.join(' or ')}${filtered}`;
  const nouns = finishedOnly ? `finished runs${filtered}` : `runs with status ${statuses.join(' or ')}${filtered}`;
  const runsOf = (n: number) => `${n} ${n === 1 ? noun : nouns}`;
  if (needRuns) {
    const raw = await api.all(
      'POST',
      'runs/search',
      { experiment_ids: [experimentId], run_view_type: 'ACTIVE_ONLY', max_results: 200, ...(spec.runFilter ? { filter: spec.runFilter } : {}) },
      'runs',
      { maxItems: MAX_RUNS },
    );
    runs = (raw ?? []).map(toRunRecord).filter((r): r is RunRecord => r !== undefined);
    selected = runs.filter((r) => statuses.includes(r.status));
    const others = runs.length - selected.length;
    evidence.push(`${runsOf(selected.length)}${others ? ` (+${others} others)` : ''}`);
  }

  if (needRuns) {
    const count = expect.runs ?? { gte: 1 };
    const why = countProblem(selected.length, count);
    if (why) {
      const others = summarizeOthers(runs, selected);
      problems.push(`experiment ${exp} has ${runsOf(selected.length)}, ${why}${others}`);
    }
  }

  if (expect.eachRun && selected.length > 0) {
    const finder = new ModelFinder(api, experimentId);
    const results = await mapLimit(selected, 4, (run) => runProblems(run, expect.eachRun!, finder));
    const bad = selected.map((run, i) => ({ run, why: results[i]! })).filter((x) => x.why.length > 0);
    if (bad.length > 0) {
      const shown = bad
        .slice(0, 3)
        .map((b) => `${runLabel(b.run)}: ${b.why.slice(0, 4).join(', ')}`)
        .join('; ');
      const more = bad.length > 3 ? `; and ${bad.length - 3} more` : '';
      problems.push(`${bad.length} of ${runsOf(selected.length)} in ${exp} ${bad.length === 1 ? 'does' : 'do'} not meet the expectations: ${shown}${more}`);
    }
  }

  if (expect.someRun && selected.length > 0) {
    const problem = await someRunProblem(selected, expect.someRun, new ModelFinder(api, experimentId));
    if (problem) problems.push(`no ${noun} in ${exp} meets all of the expectations; closest, ${problem}`);
  }

  if (expect.differentParamsAcrossRuns && selected.length > 0) {
    const keys = expect.differentParamsAcrossRuns;
    const withAll = selected.filter((r) => keys.every((k) => r.params.has(k)));
    const distinct = new Set(withAll.map((r) => JSON.stringify(keys.map((k) => normaliseParam(r.params.get(k)!)))));
    const names = keys.map((k) => `\`${k}\``).join(', ');
    if (distinct.size < 2) {
      problems.push(
        withAll.length < 2
          ? `fewer than two ${nouns} in ${exp} have the params ${names} (${withAll.length})`
          : `all ${runsOf(withAll.length)} in ${exp} used the same ${names} (${[...distinct][0] ?? ''}); expected at least two different settings`,
      );
    }
  }

  if (expect.registeredModel) {
    const r = await registeredModelProblems(api, expect.registeredModel, experimentId, runs, exp);
    problems.push(...r.problems);
    evidence.push(...r.evidence);
  }

  if (problems.length > 0) return fail(problems.join('; '), clip(evidence.join('\n')));
  return pass(clip(evidence.join('\n')));
}

async function runProblems(run: RunRecord, e: RunExpectations, finder: ModelFinder): Promise<string[]> {
  const problems = fieldProblems(run, e);
  if (e.model) {
    const why = await finder.problem(run, e.model.artifactPath);
    if (why) problems.push(why);
  }
  return problems;
}

/** `undefined` when one run meets everything; else the closest run and what it lacks. */
async function someRunProblem(runs: RunRecord[], e: RunExpectations, finder: ModelFinder): Promise<string | undefined> {
  // Cheap expectations first; the model is looked up only for runs that meet the rest.
  const scored = runs.map((run) => ({ run, why: fieldProblems(run, e) })).sort((a, b) => a.why.length - b.why.length);
  for (const s of scored) {
    if (s.why.length > 0) break;
    if (!e.model) return undefined;
    const why = await finder.problem(s.run, e.model.artifactPath);
    if (!why) return undefined;
    s.why.push(why);
  }
  const best = scored.sort((a, b) => a.why.length - b.why.length)[0]!;
  return `${runLabel(best.run)}: ${best.why.slice(0, 4).join(', ')}`;
}

function summarizeOthers(all: RunRecord[], selected: RunRecord[]): string {
  if (all.length === selected.length) return '';
  const byStatus = new Map<string, number>();
  for (const r of all) if (!selected.includes(r)) byStatus.set(r.status || 'unknown', (byStatus.get(r.status || 'unknown') ?? 0) + 1);
  return ` (other runs: ${[...byStatus].map(([s, n]) => `${n} ${s}`).join(', ')})`;
}

async function otherExperiments(api: MlflowApi): Promise<string> {
  const a = await api.call('GET', 'experiments/search', { max_results: 20 });
  const names = Array.isArray(a.json.experiments)
    ? (a.json.experiments as unknown[])
        .map((x) => (typeof x === 'object' && x !== null ? (x as Record<string, unknown>).name : undefined))
        .filter((n): n is string => typeof n === 'string')
    : [];
  return names.length > 0 ? ` (it has: ${names.slice(0, 10).map((n) => `\`${n.slice(0, 80)}\``).join(', ')})` : '';
}

async function registeredModelProblems(
  api: MlflowApi,
  rm: NonNullable<MlflowSpec['expect']['registeredModel']>,
  experimentId: string,
  runs: RunRecord[],
  exp: string,
): Promise<{ problems: string[]; evidence: string[] }> {
  const name = `\`${rm.name}\``;
  const got = await api.call('GET', 'registered-models/get', { name: rm.name });
  if (got.status === 404 || got.errorCode === 'RESOURCE_DOES_NOT_EXIST') {
    const search = await api.call('GET', 'registered-models/search', { max_results: 20 });
    const names = Array.isArray(search.json.registered_models)
      ? (search.json.registered_models as unknown[])
          .map((x) => (typeof x === 'object' && x !== null ? (x as Record<string, unknown>).name : undefined))
          .filter((n): n is string => typeof n === 'string')
      : [];
    const has = names.length > 0 ? ` (registered models: ${names.slice(0, 10).map((n) => `\`${n.slice(0, 80)}\``).join(', ')})` : '';
    return { problems: [`there is no registered model ${name}${has}`], evidence: [] };
  }
  if (got.status !== 200) throw api.faultOf('GET', 'registered-models/get', got);

  const raw =
    (await api.all('GET', 'model-versions/search', { filter: `name='${rm.name}'`, max_results: 200 }, 'model_versions', {
      maxItems: MAX_VERSIONS,
    })) ?? [];
  const versions = raw
    .map((v) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {}))
    .filter((v) => v.name === rm.name && v.status !== 'FAILED_REGISTRATION')
    .map((v) => ({
      version: Number(v.version),
      runId: typeof v.run_id === 'string' ? v.run_id : '',
      modelId: typeof v.model_id === 'string' ? v.model_id : '',
    }))
    .filter((v) => Number.isInteger(v.version));
  const problems: string[] = [];
  const evidence = [`registered model ${rm.name}: ${plural(versions.length, 'version')}`];
  if (rm.versions) {
    const why = countProblem(versions.length, rm.versions);
    if (why) problems.push(`the registered model ${name} has ${plural(versions.length, 'version')}, ${why}`);
  }
  if (rm.newestFromExperiment) {
    const newest = versions.sort((a, b) => b.version - a.version)[0];
    if (!newest) {
      if (!rm.versions) problems.push(`the registered model ${name} has no versions`);
      return { problems, evidence };
    }
    let runId = newest.runId;
    if (!runId && newest.modelId) {
      const lm = await api.call('GET', `logged-models/${encodeURIComponent(newest.modelId)}`);
      const info = (lm.json.model as Record<string, unknown> | undefined)?.info as Record<string, unknown> | undefined;
      if (lm.status === 200 && typeof info?.source_run_id === 'string') runId = info.source_run_id;
    }
    const v = `the newest version of ${name} (version ${newest.version})`;
    if (!runId) {
      problems.push(`${v} was not registered from a run (register the model logged by a run of ${exp})`);
      return { problems, evidence };
    }
    evidence.push(`newest version ${newest.version} from run ${runId}`);
    if (!runs.some((r) => r.id === runId)) {
      const r = await api.call('GET', 'runs/get', { run_id: runId });
      const run = r.status === 200 ? toRunRecord(r.json.run) : undefined;
      if (!run) problems.push(`${v} comes from run ${runId.slice(0, 8)}, which the tracking server does not know`);
      else if (run.experimentId !== experimentId) {
        problems.push(`${v} comes from ${runLabel(run)} in another experiment (id ${run.experimentId}), not ${exp}`);
      } else if (run.lifecycleStage === 'deleted') problems.push(`${v} comes from ${runLabel(run)}, which was deleted`);
    }
  }
  return { problems, evidence };
}
