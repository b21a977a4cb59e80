"""Grades the DVC pipeline of the churn repository. Runs in the grader container (trusted,
read-only at /grader), one concern per call:

    python3 /grader/dvc_grade.py tracked|stages|params-declared|params-used|current|reproduces|metrics

/workspace is read-only and DVC must write (locks, state, outputs), so every call works on
a private copy of the workspace in /tmp without the DVC cache (.dvc/cache, .dvc/tmp). The
copy's .dvc/config.local points DVC at a fresh cache next to it (where `dvc repro` saves
what it makes), or at the workspace's .dvc/cache, read-only, for `dvc status` (which
reports outputs missing from the cache). HOME and DVC's site cache point into the scratch
folder too. Calls take a lock so that only one of them runs DVC at a time: the checks run
concurrently, the grader has 1 CPU and 512 MB, and a `dvc repro` trains a model.

The candidate's code never runs in this process, nor unconfined: `dvc repro` (which runs
their stages) goes through /opt/opslab/untrusted.py (Landlock: writes only in the scratch
folder, /grader invisible, no TCP, no signals or ptrace out), and so does the loading of
their model (unpickling runs code): model_params.py, in a confined process, prints the
model's hyperparameters as JSON. DVC's own reading of dvc.yaml, dvc.lock, params and
metrics stays here: it is data, and DVC runs no git command for it.

Exit 0 and an `ok: ...` line on stdout when the requirement holds; otherwise exit 1 with
the reason, written for the candidate, as the last line of stderr. When the grader itself
cannot confine the candidate's code (no wrapper, no Landlock), exit 127 with the reason:
the command check reports that as an error of the grader, not as the candidate's failure.
"""
import fcntl
import glob
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager

WORKSPACE = "/workspace"
RAW = "data/raw/churn.csv"
# The md5 of the export in the starter, as tools/make_data.py wrote it.
RAW_MD5_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "churn.csv.md5")
TRAIN_SPLIT = "data/prepared/train.csv"
TEST_SPLIT = "data/prepared/test.csv"
MODEL = "models/model.joblib"
STAGES = ("prepare", "train", "evaluate")
# Which stage must declare (and use) which key of params.yaml.
PARAMS = {
    "prepare": ("seed", "prepare.test_size"),
    "train": ("seed", "train.n_estimators", "train.max_depth"),
}
ALL_KEYS = ("seed", "prepare.test_size", "train.n_estimators", "train.max_depth")
LOCK = "/tmp/opslab-dvc-grader.lock"
REPRO_TIMEOUT = 60
GRADED_METRICS = ("accuracy", "f1")
METRIC_TOLERANCE = 1e-4
LOAD_TIMEOUT = 60
# Mounted read-only in every grader container by the opslab server.
UNTRUSTED = "/opt/opslab/untrusted.py"
# What the wrapper exits with when it refuses to run anything (and says "untrusted.py: ...").
WRAPPER_REFUSED = 126
# What this script exits with when the grader, not the candidate, is at fault: the command
# check reports exit 127 as an error of the grader.
GRADER_FAULT = 127
MODEL_PARAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model_params.py")
# The scratch folder of the current workspace_copy (the only place confined code may write).
SCRATCH = None


class Fail(Exception):
    """The requirement does not hold; the message is for the candidate."""


class GraderFault(Exception):
    """The grader cannot do its job (the confinement is missing or refused): not the candidate's fault."""


def ok(message: str) -> None:
    print(f"ok: {message}")


# ------------------------------------------------------------------------------------
# The copy, git and DVC
# ------------------------------------------------------------------------------------


@contextmanager
def workspace_copy(workspace_cache: bool = False):
    """A private copy of /workspace without the DVC cache, the cwd while it lasts. DVC's
    cache is a fresh one in the copy, or with `workspace_cache` the workspace's own
    .dvc/cache (read-only: enough for `dvc status`)."""
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Copies left by a call that was killed (its check timed out) would fill /tmp.
        for stale in glob.glob("/tmp/dvc-grade-*"):
            shutil.rmtree(stale, ignore_errors=True)
        scratch = tempfile.mkdtemp(prefix="dvc-grade-", dir="/tmp")
        global SCRATCH
        SCRATCH = scratch
        work = os.path.join(scratch, "w")
        skip = {os.path.join(WORKSPACE, ".dvc", "cache"), os.path.join(WORKSPACE, ".dvc", "tmp")}
        try:
            try:
                shutil.copytree(
                    WORKSPACE,
                    work,
                    symlinks=True,
                    ignore=lambda d, names: [n for n in names if os.path.join(d, n) in skip],
                )
            except (shutil.Error, OSError) as e:
                raise Fail(f"the grader could not read the workspace: {str(e)[:300]}") from e
            if os.path.isdir(os.path.join(work, ".dvc")):
                # config.local outranks .dvc/config: the cache is where the grader wants it.
                cache = os.path.join(WORKSPACE, ".dvc", "cache") if workspace_cache else os.path.join(scratch, "cache")
                with open(os.path.join(work, ".dvc", "config.local"), "w") as f:
                    f.write(f"[cache]\n    dir = {cache}\n")
            os.environ.update(
                HOME=scratch,
                DVC_SITE_CACHE_DIR=os.path.join(scratch, "dvc-site"),
                DVC_NO_ANALYTICS="1",
                GIT_CONFIG_NOSYSTEM="1",
            )
            os.chdir(work)
            yield work
        finally:
            os.chdir("/")
            shutil.rmtree(scratch, ignore_errors=True)


def git(*args: str) -> str:
    r = subprocess.run(
        ["git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if r.returncode != 0:
        raise Fail(f"git {args[0]} failed in the repository: {r.stderr.strip()[-300:]}")
    return r.stdout


def committed_files() -> set:
    try:
        return set(git("ls-tree", "-r", "--name-only", "-z", "HEAD").split("\0")) - {""}
    except Fail as e:
        raise Fail("the repository has no commit to grade: commit your work") from e


def open_repo():
    if not os.path.isdir(".dvc"):
        raise Fail("this is not a DVC repository yet: there is no .dvc/ folder (run `dvc init`)")
    from dvc.repo import Repo

    try:
        return Repo(".")
    except Exception as e:  # any failure to load is the candidate's config
        raise Fail(f"DVC cannot open the repository: {type(e).__name__}: {str(e)[:300]}") from e


def load_stages(repo) -> list:
    try:
        return list(repo.index.stages)
    except Exception as e:  # a broken dvc.yaml or .dvc file
        raise Fail(f"DVC cannot load the pipeline: {type(e).__name__}: {str(e)[:300]}") from e


def rel(path: str) -> str:
    return os.path.relpath(path, os.getcwd()).replace(os.sep, "/")


def covers(outer: str, inner: str) -> bool:
    """`outer` is `inner` or a folder that contains it (paths relative to the repo)."""
    return outer == inner or inner.startswith(outer.rstrip("/") + "/")


def pipeline_stages(repo) -> dict:
    """The stages prepare, train and evaluate of the root dvc.yaml, by name."""
    if not os.path.isfile("dvc.yaml"):
        raise Fail("there is no dvc.yaml at the root of the repository")
    found = {}
    for stage in load_stages(repo):
        if getattr(stage, "name", None) in STAGES and stage.path_in_repo == "dvc.yaml":
            found[stage.name] = stage
    missing = [s for s in STAGES if s not in found]
    if missing:
        raise Fail(f"dvc.yaml has no stage named {', '.join(missing)} (the stages are prepare, train and evaluate)")
    return found


def data_deps(stage) -> list:
    return [rel(d.fs_path) for d in stage.deps if type(d).__name__ == "Dependency"]


def outs(stage) -> list:
    return [rel(o.fs_path) for o in stage.outs]


def confined_env(rw: str) -> dict:
    """The environment of confined code: this one, with temporary files in `rw` (/tmp is not theirs)."""
    tmp = os.path.join(rw, "tmp")
    os.makedirs(tmp, exist_ok=True)
    return {**os.environ, "TMPDIR": tmp}


def run_confined(cmd: list, rw: str, timeout: int, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Runs the candidate's code (`cmd`) through the wrapper: read-only everywhere but `rw`,
    no /grader, no TCP, no signals or ptrace out. Raises subprocess.TimeoutExpired."""
    if not os.path.isfile(UNTRUSTED):
        raise GraderFault(f"the grader cannot confine the candidate's code: {UNTRUSTED} is missing from the grader container")
    env = confined_env(rw)
    wrap = [sys.executable, UNTRUSTED, "--rw", rw, "--"]
    r = subprocess.run([*wrap, *cmd], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode == WRAPPER_REFUSED and "untrusted.py: " in r.stderr:
        # The wrapper's own refusal, or the candidate's code saying the same words? The
        # wrapper, run again on nothing with the same folder, tells which.
        probe = subprocess.run([*wrap, sys.executable, "-c", ""], check=False, env=env, capture_output=True, text=True, timeout=30)
        if probe.returncode != 0:
            raise GraderFault(f"the grader could not run the candidate's code confined: {last_lines(probe.stderr or probe.stdout, 1)}")
    return r


def dvc(*args: str, timeout: int = REPRO_TIMEOUT) -> subprocess.CompletedProcess:
    """DVC on the copy, confined: `dvc repro` runs the candidate's stages."""
    exe = shutil.which("dvc")
    if exe is None:
        raise GraderFault("the grader has no dvc on its PATH")
    try:
        return run_confined([exe, *args], SCRATCH, timeout)
    except subprocess.TimeoutExpired as e:
        raise Fail(f"`dvc {' '.join(args)}` did not finish within {timeout} s") from e


def last_lines(text: str, n: int = 3) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-n:])[-400:]


def md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_params() -> dict:
    import yaml

    try:
        with open("params.yaml") as f:
            params = yaml.safe_load(f)
    except FileNotFoundError as e:
        raise Fail("there is no params.yaml at the root of the repository") from e
    except yaml.YAMLError as e:
        raise Fail(f"params.yaml is not valid YAML: {str(e)[:200]}") from e
    if not isinstance(params, dict):
        raise Fail("params.yaml must be a mapping of keys to values")
    return params


def get_key(params: dict, key: str):
    node = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise Fail(f"params.yaml has no key {key}")
        node = node[part]
    return node


def set_key(params: dict, key: str, value) -> None:
    *parents, last = key.split(".")
    node = params
    for part in parents:
        node = node[part]
    node[last] = value


def flat_numbers(doc, prefix: str = "") -> dict:
    """{dotted.key: number} for every number in a metrics document."""
    out = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.update(flat_numbers(v, f"{prefix}{k}."))
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        out[prefix[:-1]] = float(doc)
    return out


def metric_values(repo) -> dict:
    """{file: {dotted.key: number}} of the metrics DVC shows for the workspace."""
    try:
        shown = repo.metrics.show()
    except Exception as e:
        raise Fail(f"`dvc metrics show` fails: {type(e).__name__}: {str(e)[:300]}") from e
    result = {}
    for path, entry in (shown.get("", {}).get("data") or {}).items():
        if "error" in entry:
            raise Fail(f"`dvc metrics show` cannot read {path}: {str(entry['error'])[:200]}")
        result[path] = flat_numbers(entry.get("data"))
    return result


def named(values: dict, name: str):
    """The metric called `name` (top level or the last part of a nested key), or None."""
    for numbers in values.values():
        for key, value in numbers.items():
            if key == name or key.endswith("." + name):
                return value
    return None


# ------------------------------------------------------------------------------------
# The concerns
# ------------------------------------------------------------------------------------


def check_tracked() -> None:
    with workspace_copy():
        files = committed_files()
        if RAW in files:
            raise Fail(f"{RAW} is still committed to git: take it out of git (`git rm --cached`) and let DVC track it")
        repo = open_repo()
        tracking = [
            s for s in load_stages(repo) if s.is_data_source and any(covers(o, RAW) for o in outs(s))
        ]
        if not tracking:
            raise Fail(f"no .dvc file tracks {RAW} (`dvc add` it)")
        dvcfile = tracking[0].path_in_repo
        if dvcfile not in files:
            raise Fail(f"{dvcfile} tracks the data but is not committed to git")
        if not os.path.isfile(RAW):
            raise Fail(f"{RAW} is missing from the workspace (`dvc checkout` brings it back)")
        with open(RAW_MD5_FILE) as f:
            given = f.read().strip()
        if md5(RAW) != given:
            raise Fail(f"{RAW} is not the export you were given any more: version the data as it is, do not edit it")
        ok(f"{RAW} is versioned by DVC ({dvcfile}) and no longer committed to git")


def check_stages() -> None:
    with workspace_copy():
        found = pipeline_stages(open_repo())
        prepare, train, evaluate = (found[s] for s in STAGES)
        prep_outs = outs(prepare)
        train_outs = outs(train)
        for name, stage in found.items():
            if not any(covers(d, f"src/{name}.py") for d in data_deps(stage)):
                raise Fail(f"stage {name} does not depend on its code, src/{name}.py: a change to the script would not rerun it")
        if not any(covers(d, RAW) for d in data_deps(prepare)):
            raise Fail(f"stage prepare does not depend on the raw data, {RAW}")
        for split in (TRAIN_SPLIT, TEST_SPLIT):
            if not any(covers(o, split) for o in prep_outs):
                raise Fail(f"stage prepare does not declare {split} as an output")
        if not any(covers(o, MODEL) for o in train_outs):
            raise Fail(f"stage train does not declare the model, {MODEL}, as an output")
        wants = [
            (train, "train", TRAIN_SPLIT, prep_outs, "the training split prepare writes"),
            (evaluate, "evaluate", MODEL, train_outs, "the model train writes"),
            (evaluate, "evaluate", TEST_SPLIT, prep_outs, "the test split prepare writes"),
        ]
        for stage, name, path, upstream, what in wants:
            deps = data_deps(stage)
            if not any((covers(d, path) or covers(path, d)) and any(covers(o, d) or covers(d, o) for o in upstream) for d in deps):
                raise Fail(f"stage {name} does not depend on {what} ({path}): DVC cannot chain the stages")
        ok("prepare -> train -> evaluate, each depending on its code and on the outputs of the stage before")


def check_params_declared() -> None:
    with workspace_copy():
        params = read_params()
        for key in ALL_KEYS:
            value = get_key(params, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise Fail(f"params.yaml: {key} must be a number, not {value!r}")
        found = pipeline_stages(open_repo())
        for name, keys in PARAMS.items():
            stage = found[name]
            declared = []
            for dep in stage.deps:
                if type(dep).__name__ == "ParamsDependency" and rel(dep.fs_path) == "params.yaml":
                    # An empty list means the whole file.
                    declared.extend(dep.params or [""])
            # A ${key} interpolated into the stage (its command) reruns it too: the command changes.
            for path, used in (getattr(stage, "tracked_vars", None) or {}).items():
                if os.path.normpath(path) == "params.yaml":
                    declared.extend(used)
            for key in keys:
                if not any(d == "" or covers(d.replace(".", "/"), key.replace(".", "/")) for d in declared):
                    raise Fail(f"stage {name} does not declare the parameter {key} (params: in dvc.yaml), so changing it would not rerun the stage")
        ok("params.yaml holds seed, prepare.test_size, train.n_estimators and train.max_depth, and the stages declare them")


class Shown:
    """A hyperparameter as model_params.py saw it: compares by its JSON value, prints as its repr."""

    def __init__(self, entry: dict):
        self.has_value = "value" in entry
        self.value = entry.get("value")
        self.text = str(entry.get("repr", "?"))

    def __eq__(self, other):
        return self.has_value and self.value == other

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return self.text


def load_model() -> dict:
    """get_params(deep=True) of the model `dvc repro` wrote, from model_params.py run confined
    (loading a pickle runs the candidate's code)."""
    with open(MODEL_PARAMS) as f:
        source = f.read()
    rw = tempfile.mkdtemp(prefix="load-", dir=SCRATCH)
    try:
        r = run_confined([sys.executable, "-I", "-c", source, MODEL], rw, LOAD_TIMEOUT, cwd=os.getcwd())
    except subprocess.TimeoutExpired as e:
        raise Fail(f"{MODEL} cannot be loaded with joblib: loading it took more than {LOAD_TIMEOUT} s") from e
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    try:
        answer = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        said = last_lines(r.stderr, 1) or "no output"
        raise Fail(f"{MODEL} cannot be loaded with joblib: the process loading it exited {r.returncode} without an answer: {said}")
    error = answer.get("error")
    if error == "load":
        raise Fail(f"{MODEL} cannot be loaded with joblib: {answer.get('type')}: {answer.get('message')}")
    if error == "not-estimator":
        raise Fail(f"{MODEL} is not a scikit-learn estimator")
    if error == "get_params":
        raise Fail(f"{MODEL}: get_params() of the model fails: {answer.get('type')}: {answer.get('message')}")
    params = answer.get("params")
    if error is not None or not isinstance(params, dict):
        raise Fail(f"{MODEL} cannot be loaded with joblib: the process loading it gave no hyperparameters")
    return {key: Shown(entry) for key, entry in params.items() if isinstance(entry, dict)}


def model_param(got: dict, name: str):
    for key, value in got.items():
        if key == name or key.endswith("__" + name):
            return value
    return None


def rows(path: str) -> int:
    if not os.path.isfile(path):
        raise Fail(f"`dvc repro` left no {path}")
    with open(path, "rb") as f:
        return max(0, sum(1 for line in f if line.strip()) - 1)


def repro_forced(stages: list, why: str) -> None:
    r = dvc("repro", "--force", *stages)
    if r.returncode != 0:
        raise Fail(f"{why}, `dvc repro --force {' '.join(stages)}` failed: {last_lines(r.stderr or r.stdout)}")


def check_params_used() -> None:
    import yaml

    with workspace_copy():
        params = read_params()
        current = {key: get_key(params, key) for key in ALL_KEYS}
        repo = open_repo()
        pipeline_stages(repo)
        repo.close()

        # 1. Another seed: prepare must split the rows differently.
        seed = 7 if current["seed"] != 7 else 8
        set_key(params, "seed", seed)
        with open("params.yaml", "w") as f:
            yaml.safe_dump(params, f, sort_keys=False)
        before = md5(TEST_SPLIT) if os.path.isfile(TEST_SPLIT) else None
        repro_forced(["prepare"], f"with seed: {seed} in params.yaml")
        if before is not None and md5(TEST_SPLIT) == before:
            raise Fail(f"with seed: {seed} in params.yaml, prepare wrote the same test split as before: src/prepare.py does not take its seed from params.yaml")

        # 2. Another test size and other hyperparameters: the split and the model follow.
        changes = {
            "prepare.test_size": 0.3 if abs(current["prepare.test_size"] - 0.3) > 0.01 else 0.25,
            "train.n_estimators": 13 if current["train.n_estimators"] != 13 else 17,
            "train.max_depth": 3 if current["train.max_depth"] != 3 else 4,
        }
        for key, value in changes.items():
            set_key(params, key, value)
        with open("params.yaml", "w") as f:
            yaml.safe_dump(params, f, sort_keys=False)
        said = ", ".join(f"{k}: {v}" for k, v in changes.items())
        # Both targets: a pipeline where train does not follow prepare is the stages check's business.
        repro_forced(["prepare", "train"], f"with {said} in params.yaml")
        test_rows, train_rows = rows(TEST_SPLIT), rows(TRAIN_SPLIT)
        share = test_rows / max(1, test_rows + train_rows)
        if abs(share - changes["prepare.test_size"]) > 0.01:
            raise Fail(f"with prepare.test_size: {changes['prepare.test_size']} in params.yaml, the test split holds {share:.0%} of the rows: src/prepare.py does not read it")
        got = load_model()
        for key, name, want in (
            ("train.n_estimators", "n_estimators", changes["train.n_estimators"]),
            ("train.max_depth", "max_depth", changes["train.max_depth"]),
            ("seed", "random_state", seed),
        ):
            value = model_param(got, name)
            if value != want:
                raise Fail(f"with {key}: {want} in params.yaml, `dvc repro` trained a model with {name}={value!r}: src/train.py does not read {key}")
        ok("prepare and train take seed, test_size, n_estimators and max_depth from params.yaml")


def check_current() -> None:
    with workspace_copy(workspace_cache=True):
        files = committed_files()
        for name in ("dvc.yaml", "dvc.lock", "params.yaml"):
            if name not in files:
                raise Fail(f"{name} is not committed to git" + (" (`dvc repro` writes it; commit it)" if name == "dvc.lock" else ""))
        repo = open_repo()
        pipeline_stages(repo)
        try:
            status = repo.status()
        except Exception as e:
            raise Fail(f"`dvc status` fails: {type(e).__name__}: {str(e)[:300]}") from e
        if status:
            what, changes = next(iter(status.items()))
            detail = json.dumps(changes)[:250]
            raise Fail(f"`dvc status` is not clean, {len(status)} stage(s) out of date, e.g. {what}: {detail} - run `dvc repro` and commit dvc.lock")
        ok("`dvc status`: data and pipelines are up to date with dvc.lock")


def check_reproduces() -> None:
    with workspace_copy():
        repo = open_repo()
        pipeline_stages(repo)
        before = metric_values(repo)
        committed = {name: named(before, name) for name in GRADED_METRICS}
        if None in committed.values():
            raise Fail("there are no committed accuracy and f1 to compare with: stage evaluate must write them to its metrics file (metrics: in dvc.yaml)")
        repo.close()
        r = dvc("repro", "--force")
        if r.returncode != 0:
            raise Fail(f"`dvc repro --force` fails on a fresh copy of the repository: {last_lines(r.stderr or r.stdout)}")
        after = metric_values(open_repo())
        for name, value in committed.items():
            again = named(after, name)
            if again is None:
                raise Fail(f"after `dvc repro --force`, the metrics have no {name} any more")
            if not math.isclose(value, again, rel_tol=0, abs_tol=METRIC_TOLERANCE):
                raise Fail(
                    f"the committed metrics say {name} = {value:g}, but `dvc repro --force` gives {again:g}: "
                    "the committed results do not come from the committed data, code and params"
                )
        ok(f"`dvc repro --force` succeeds and gives the committed accuracy ({committed['accuracy']:g}) and f1 ({committed['f1']:g})")


def check_metrics() -> None:
    with workspace_copy():
        files = committed_files()
        repo = open_repo()
        evaluate = pipeline_stages(repo)["evaluate"]
        declared = [o for o in evaluate.outs if o.metric]
        if not declared:
            raise Fail("stage evaluate declares no metrics file (metrics: in dvc.yaml)")
        for out in declared:
            path = rel(out.fs_path)
            if out.use_cache:
                raise Fail(f"the metrics file {path} is cached by DVC: give it cache: false and commit it to git")
            if path not in files:
                raise Fail(f"the metrics file {path} is not committed to git")
        values = metric_values(repo)
        for name in GRADED_METRICS:
            value = named(values, name)
            if value is None:
                raise Fail(f"`dvc metrics show` has no metric called {name}")
            if not 0 <= value <= 1:
                raise Fail(f"`dvc metrics show`: {name} = {value:g} is not between 0 and 1")
        ok(f"`dvc metrics show`: accuracy {named(values, 'accuracy'):.4f}, f1 {named(values, 'f1'):.4f}")


CONCERNS = {
    "tracked": check_tracked,
    "stages": check_stages,
    "params-declared": check_params_declared,
    "params-used": check_params_used,
    "current": check_current,
    "reproduces": check_reproduces,
    "metrics": check_metrics,
}


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in CONCERNS:
        print(f"usage: dvc_grade.py {'|'.join(CONCERNS)}", file=sys.stderr)
        sys.exit(2)
    try:
        CONCERNS[sys.argv[1]]()
    except Fail as e:
        print(str(e), file=sys.stderr)
        sys.exit(1)
    except GraderFault as e:
        print(f"{e} (a fault of the grader, not of the work graded)", file=sys.stderr)
        sys.exit(GRADER_FAULT)


if __name__ == "__main__":
    main()
