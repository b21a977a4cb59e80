"""Runtime settings, read from the environment.

In production the supervisor loads deploy/service.env into the environment before it
runs deploy/run.sh (see README.md, "Runbook").
"""
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    model_path: str
    managed_by: str | None
    restarts: int


def load_settings() -> Settings:
    model_path = os.environ.get("MODEL_PATH", "").strip()
    if not model_path:
        raise RuntimeError("MODEL_PATH is not set (it comes from deploy/service.env)")
    return Settings(
        model_path=model_path,
        managed_by=os.environ.get("CHURN_API_MANAGED_BY") or None,
        restarts=int(os.environ.get("CHURN_API_RESTARTS", "0")),
    )
