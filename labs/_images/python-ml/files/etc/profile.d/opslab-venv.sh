# opslab/python-ml: the tools' virtualenv (/opt/venv) first on PATH. The image's ENV
# already says so for `docker exec` and setup steps; login shells (the candidate's
# `bash -l`) start from /etc/profile, which resets PATH, and get it back here.
# shellcheck shell=sh
case ":$PATH:" in
  *:/opt/venv/bin:*) ;;
  *) PATH=/opt/venv/bin:$PATH ;;
esac
VIRTUAL_ENV=/opt/venv
export PATH VIRTUAL_ENV
