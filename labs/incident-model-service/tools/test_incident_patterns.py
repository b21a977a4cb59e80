"""Root-cause wordings the incident check must accept, and ones it must refuse.

    /opt/venv/bin/python3 labs/incident-model-service/tools/test_incident_patterns.py
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "grader"))
import grade  # noqa: E402

ACCEPT = [
    "MODEL_PATH pointed at /srv/models/churn/v4/model.joblib, which doesn't exist.",
    "The release configured the v4 model file, which could not be found, so startup failed.",
    "deploy/service.env referenced model v4 but v4 was never published to the model store (rejected by validation).",
    "Release 2.4.0 switched the service to churn model v4, whose artifact is not in the store: FileNotFoundError at startup.",
    "The service config points to version 4 of the model; there is no model.joblib for it.",
    "The model path was changed to v4 but the v4 artifact is missing.",
    "Config pointed to /srv/models/churn/v4/model.joblib; the file was not present because v4 failed validation.",
]
REFUSE = [
    "The service ran out of memory after the deploy and was OOM-killed in a loop.",
    "A network problem between the CRM and churn-api.",
    "A bad deploy broke the service.",
    "The v4 model used too much memory and the process was killed.",
    "The model file was missing.",  # which version?
    "v4 was deployed and the service crashed.",  # what was wrong?
]


def verdict(text: str) -> bool:
    return bool(grade.NAMES_VERSION.search(text) and grade.NAMES_ARTIFACT.search(text) and grade.SAYS_MISSING.search(text))


bad = [t for t in ACCEPT if not verdict(t)] + [t for t in REFUSE if verdict(t)]
for t in bad:
    print(f"WRONG: {t}")
print(f"{len(ACCEPT) + len(REFUSE) - len(bad)} of {len(ACCEPT) + len(REFUSE)} right")
sys.exit(1 if bad else 0)
