#!/usr/bin/env bash
# Set-up and entry points for a fresh clone. Everything goes into ./.venv; nothing else is touched.
#
#   bash dev.sh lab     create .venv if needed, install, start JupyterLab on tutorials/ (offline)
#   bash dev.sh test    create .venv if needed, install with test extras, run pytest + nbval
#   bash dev.sh setup   only create/refresh .venv
#
# TORCH_SPEC picks the torch build (default torch==2.13.0; CPU-only machines can point pip at a
# CPU wheel index through PIP_INDEX_URL / PIP_EXTRA_INDEX_URL as usual).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
export WORKBENCH_DATA_DIR=${WORKBENCH_DATA_DIR:-$(cd .. && pwd)/shared/data}

setup() {
  local extras=$1 stamp="$VENV/.installed-$1"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "$TORCH_SPEC"
    "$VENV/bin/python" -m pip install --quiet -e ".$extras"
    "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)" >/dev/null
    # Offline classrooms: JupyterLab must not ask to fetch news or check for updates.
    mkdir -p "$VENV/share/jupyter/lab/settings"
    echo '{"@jupyterlab/apputils-extension:notification": {"checkForUpdates": false, "fetchNews": "false"}}' \
      > "$VENV/share/jupyter/lab/settings/overrides.json"
    touch "$stamp"
  fi
}

case "${1:-}" in
  setup)
    setup "[dev]"
    ;;
  lab)
    setup ""
    shift
    exec "$VENV/bin/workbench" lab tutorials "$@"
    ;;
  test)
    setup "[dev]"
    shift
    export HF_HUB_OFFLINE=1
    export MPLBACKEND=Agg
    start=$(date +%s)
    "$VENV/bin/python" -m pytest tests -q -p no:cacheprovider "$@"
    notebook_dirs=$(for d in tutorials notebooks; do ls "$d"/*.ipynb >/dev/null 2>&1 && echo "$d"; done)
    if [ -n "$notebook_dirs" ]; then
      "$VENV/bin/python" -m pytest --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg -q -p no:cacheprovider $notebook_dirs
    fi
    echo "dev.sh test: all suites passed in $(( $(date +%s) - start )) s"
    ;;
  *)
    echo "usage: bash dev.sh {lab|test|setup} [extra pytest or jupyter arguments]" >&2
    exit 2
    ;;
esac
