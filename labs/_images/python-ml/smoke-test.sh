# shellcheck shell=bash
# Run by scripts/setup/lab-images.sh in a freshly built opslab/python-ml, as uid 1000
# with no network (bash -s on stdin). Any failure removes the new tag again.
set -eu
test "$(id -u)" = 1000
# Login shells (the candidate's) and plain ones both find the venv first.
test "$(bash -lc 'command -v python')" = /opt/venv/bin/python
test "$(command -v python3)" = /opt/venv/bin/python3
python - <<'PY'
import importlib, sys
mods = ["mlflow", "mlflow.server", "sklearn", "pandas", "numpy", "fastapi", "fastapi.testclient",
        "uvicorn", "httpx", "prometheus_client", "dvc", "requests", "pytest"]
for m in mods:
    importlib.import_module(m)
assert sys.prefix == "/opt/venv", sys.prefix
import mlflow, sklearn, pandas, numpy, fastapi, dvc
print("python", sys.version.split()[0], "mlflow", mlflow.__version__, "sklearn", sklearn.__version__,
      "pandas", pandas.__version__, "numpy", numpy.__version__, "fastapi", fastapi.__version__,
      "dvc", dvc.__version__)
PY
mlflow --version >/dev/null
dvc --version >/dev/null
pytest --version >/dev/null
uvicorn --version >/dev/null
ruff --version >/dev/null
hadolint --version >/dev/null
check-jsonschema --version >/dev/null
promtool --version >/dev/null
python -m pip check
# The venv is root's: the candidate cannot change the tools that setup steps run.
if touch /opt/venv/bin/mlflow 2>/dev/null; then
  echo "uid 1000 can write /opt/venv" >&2
  exit 1
fi
echo "smoke test passed"
