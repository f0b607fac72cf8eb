# Sourced by this study's scripts: the repository (ROOT), the code the cells run (STUDY_CODE, default
# ROOT: a frozen worktree keeps training the same code while the repository moves on), the results
# folder (STUDY_RUNS, default ROOT/runs/issue23), the environment's Python, and `bench`.
# The scripts run from the code's folder: python -m puts the working folder first on sys.path.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
CODE="${STUDY_CODE:-$ROOT}"
RUNS="${STUDY_RUNS:-$ROOT/runs/issue23}"
PY="$ROOT/.venv/bin/python"
export PYTHONPATH="$CODE"
cd "$CODE" || exit 1
bench() {
  if [ -f "$CODE/benchmark/app/cli.py" ]; then "$PY" -m benchmark.app.cli "$@"; else "$PY" -m benchmark.cli "$@"; fi
}
