"""Self-test of grader/audit_dockerfile.py on Dockerfiles right and wrong. Not part of
the lab test (no sandbox needed); run it in the python-ml image after changing the grader:

    docker run --rm -v "$PWD/labs/model-serving:/lab:ro" -w /tmp opslab/python-ml \
        python -m pytest -q -p no:cacheprovider /lab/tools/test_audit.py
"""
import os
import pathlib
import subprocess
import sys

import pytest

AUDIT = pathlib.Path(__file__).resolve().parent.parent / "grader" / "audit_dockerfile.py"
DIGEST = "sha256:" + "ab" * 32

GOOD = """\
FROM python:3.11-slim-bookworm
WORKDIR /app
RUN useradd --system churn
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app/ app/
COPY model/model.joblib model/model.joblib
USER churn
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
"""
GOOD_IGNORE = ".git\n.env\n.venv\n"


def audit(tmp_path, check, dockerfile, dockerignore=GOOD_IGNORE, files=None):
    ws = tmp_path / "ws"
    for rel, text in {"app/main.py": "", "requirements.txt": "", "train.py": "", "data/churn.csv": "", **(files or {})}.items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
    (ws / "Dockerfile").write_text(dockerfile)
    if dockerignore is not None:
        (ws / ".dockerignore").write_text(dockerignore)
    r = subprocess.run(
        [sys.executable, str(AUDIT), check], env={**os.environ, "WORKSPACE": str(ws)}, capture_output=True, text=True
    )
    return r.returncode == 0, (r.stdout + r.stderr).strip()


@pytest.mark.parametrize("check", ["base", "user", "secrets", "context", "serve"])
def test_good_dockerfile_passes_everything(tmp_path, check):
    passed, out = audit(tmp_path, check, GOOD)
    assert passed, out


@pytest.mark.parametrize(
    ("base", "ok"),
    [
        ("python", False),
        ("python:latest", False),
        ("python:3", False),
        ("python:slim-bookworm", False),
        ("python:3.11", True),
        ("python:3.11.13-slim-bookworm", True),
        (f"python@{DIGEST}", True),
        (f"python:3.11-slim@{DIGEST}", True),
        ("registry.example.com:5000/ml/python:3.11-slim", True),
        ("registry.example.com:5000/ml/python", False),
    ],
)
def test_base(tmp_path, base, ok):
    assert audit(tmp_path, "base", GOOD.replace("python:3.11-slim-bookworm", base))[0] is ok


def test_base_through_args_and_stages(tmp_path):
    multi = "ARG PY=python:3.11-slim\nFROM ${PY} AS deps\nRUN true\nFROM deps\nCMD [\"x\"]\n"
    assert audit(tmp_path, "base", multi)[0]
    assert not audit(tmp_path, "base", multi.replace("ARG PY=python:3.11-slim", "ARG PY"))[0]
    assert not audit(tmp_path, "base", "FROM python:3.11 AS a\nFROM python:latest\n")[0]


@pytest.mark.parametrize(
    ("change", "ok"),
    [
        (("USER churn", "USER root"), False),
        (("USER churn", "USER 0:0"), False),
        (("USER churn\n", ""), False),
        (("USER churn", "USER churn\nUSER root"), False),
        (("USER churn", "USER 10001:10001"), True),
        (("USER churn", "USER nobody"), True),
        (("USER churn", "USER app"), False),  # never created
        (("RUN useradd --system churn", "RUN groupadd -r churn && adduser --system --ingroup churn churn"), True),
    ],
)
def test_user(tmp_path, change, ok):
    assert audit(tmp_path, "user", GOOD.replace(*change))[0] is ok


def test_user_in_multi_stage(tmp_path):
    builder_only = "FROM python:3.11 AS build\nRUN useradd app\nUSER app\nFROM python:3.11-slim\nCMD [\"x\"]\n"
    assert not audit(tmp_path, "user", builder_only)[0]
    inherited = "FROM python:3.11 AS base\nRUN useradd app\nUSER app\nFROM base\nCMD [\"x\"]\n"
    assert audit(tmp_path, "user", inherited)[0]
    via_arg = "FROM python:3.11\nARG APP_USER=app\nRUN useradd $APP_USER\nUSER ${APP_USER}\n"
    assert audit(tmp_path, "user", via_arg)[0]


@pytest.mark.parametrize(
    ("extra", "ok"),
    [
        ("ENV API_KEY=abc", False),
        ("ARG API_TOKEN", False),
        ("ENV DB_PASSWORD=", False),
        ("ARG GITHUB_AUTH=x", False),
        ("ENV WAREHOUSE_URL=postgresql://churn_ro:hunter2@db:5432/x", False),
        ("# was: ck_live_4f8Qz27XbLr9Tn3KcW5aYp1E", False),
        ("ENV PUBLIC_KEY=abc", True),
        ("ENV KEYCLOAK_URL=https://sso.example.com MONKEY=1", True),
        ("ENV PIP_NO_CACHE_DIR=1", True),
        ("RUN --mount=type=secret,id=pip_token pip --version", True),
    ],
)
def test_secrets_in_dockerfile(tmp_path, extra, ok):
    assert audit(tmp_path, "secrets", GOOD.replace("WORKDIR /app\n", f"WORKDIR /app\n{extra}\n"))[0] is ok


@pytest.mark.parametrize(
    ("dockerignore", "ok"),
    [
        (None, False),  # COPY . . sends the .env
        (".git\n.venv\n", False),
        (".git\n.env\n.venv\n", True),
        (".env\n!.env\n", False),
        ("*\n!app/\n!model/\n!requirements.txt\n", True),
    ],
)
def test_env_file_copied(tmp_path, dockerignore, ok):
    copy_all = GOOD.replace("COPY app/ app/\n", "COPY . .\n")
    assert audit(tmp_path, "secrets", copy_all, dockerignore)[0] is ok


@pytest.mark.parametrize(
    ("dockerignore", "ok"),
    [
        (None, False),
        ("", False),
        (".git\n", False),
        (".git\n.env\n", False),
        ("/.git/\n/.env\n/.venv/\n", True),
        (".git\n.env*\n.venv\n**/__pycache__\n*.md\n", True),
        ("*\n!app\n!model/model.joblib\n!requirements.txt\n", True),
        (".git\n.env\n.venv\nmodel/\n", False),  # the COPY of the model finds nothing
        (".git\n.env\n.venv\n*.joblib\n", True),  # matches at the root only, as in Docker
        (".git\n.env\n.venv\n**/*.joblib\n", False),
        (".git\n.env\n.venv\napp\n", False),
        ("**/.git\n**/.env\n**/.venv\n", True),
    ],
)
def test_context(tmp_path, dockerignore, ok):
    assert audit(tmp_path, "context", GOOD, dockerignore)[0] is ok


@pytest.mark.parametrize(
    ("cmd", "ok"),
    [
        ('CMD ["uvicorn", "app.main:app", "--port", "8000"]', False),
        ("CMD uvicorn app.main:app --port 8000", False),
        ('CMD ["uvicorn", "app.main:app", "--host", "127.0.0.1"]', False),
        ("CMD uvicorn app.main:app --host=0.0.0.0", True),
        ('ENTRYPOINT ["uvicorn"]\nCMD ["app.main:app", "--host", "0.0.0.0"]', True),
        ('ENV UVICORN_HOST=0.0.0.0\nCMD ["uvicorn", "app.main:app"]', True),
        ('CMD ["python", "-m", "uvicorn", "app.main:app", "--host", "::"]', True),
        ('CMD ["fastapi", "run", "app/main.py", "--port", "8000"]', True),
        ('CMD ["./start.sh"]', True),  # start.sh below runs uvicorn on 0.0.0.0
        ('CMD ["python", "-m", "app"]', False),  # app/__main__.py does not exist
        ("", False),
    ],
)
def test_serve_listens(tmp_path, cmd, ok):
    dockerfile = GOOD.replace('CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]', cmd)
    files = {"start.sh": "#!/bin/sh\nexec uvicorn app.main:app --host 0.0.0.0\n"}
    assert audit(tmp_path, "serve", dockerfile, files=files)[0] is ok


def test_serve_needs_the_model(tmp_path):
    assert not audit(tmp_path, "serve", GOOD.replace("COPY model/model.joblib model/model.joblib\n", ""))[0]
    trained = GOOD.replace("COPY model/model.joblib model/model.joblib\n", "COPY train.py data/ ./\nRUN python train.py\n")
    assert audit(tmp_path, "serve", trained)[0]
    assert audit(tmp_path, "serve", GOOD.replace("COPY app/ app/\n", "COPY . .\n"))[0]


def test_continuations_comments_and_heredocs(tmp_path):
    dockerfile = (
        "FROM python:3.11-slim\n"
        "RUN <<EOF\nuseradd \\\n  churn\nEOF\n"
        "COPY --chown=churn:churn \\\n"
        "  # a comment inside a continuation\n"
        "  app/ app/\n"
        "COPY model/ model/\n"
        "USER churn\n"
        'CMD ["uvicorn", "app.main:app", \\\n     "--host", "0.0.0.0"]\n'
    )
    for check in ("user", "context", "serve", "secrets"):
        passed, out = audit(tmp_path, check, dockerfile)
        assert passed, f"{check}: {out}"
